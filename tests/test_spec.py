"""ResNetSpec: presets, depth <-> stages, names, and the errors a student can cause."""

from __future__ import annotations

import pytest

from explorer.model.preset_rows import PRESET_ROWS
from explorer.model.presets import PRESETS, TORCHVISION_PRESETS, cifar_resnet, get_preset, resnet_for_depth
from explorer.model.depth import stages_for_depth
from explorer.model.kinds import Block, Shortcut, Stem, StrideStyle
from explorer.model.spec import ResNetSpec, check_input_size, spec_for_depth


@pytest.mark.parametrize(("depth", "block", "stages"), [
    (10, Block.BASIC, (1, 1, 1, 1)),
    (18, Block.BASIC, (2, 2, 2, 2)),
    (34, Block.BASIC, (3, 4, 6, 3)),
    (26, Block.BOTTLENECK, (2, 2, 2, 2)),
    (50, Block.BOTTLENECK, (3, 4, 6, 3)),
    (101, Block.BOTTLENECK, (3, 4, 23, 3)),
    (152, Block.BOTTLENECK, (3, 8, 36, 3)),
    (200, Block.BOTTLENECK, (3, 24, 36, 3)),
])
def test_published_depths_get_published_stage_counts(depth: int, block: Block, stages: tuple[int, ...]) -> None:
    assert stages_for_depth(depth, block) == stages
    assert ResNetSpec(stages=stages, block=block).depth == depth


@pytest.mark.parametrize(("depth", "block"), [(62, Block.BOTTLENECK), (40, Block.BASIC), (98, Block.BASIC), (302, Block.BOTTLENECK)])
def test_unpublished_depths_follow_the_paper_proportions(depth: int, block: Block) -> None:
    stages = stages_for_depth(depth, block)
    assert ResNetSpec(stages=stages, block=block).depth == depth
    # 3:4:6:3 ordering: the third stage is the largest, the first and last the smallest.
    assert stages[2] == max(stages)
    assert min(stages) >= 1


@pytest.mark.parametrize(("depth", "n"), [(20, 3), (32, 5), (44, 7), (56, 9), (110, 18), (1202, 200)])
def test_cifar_depths_are_6n_plus_2(depth: int, n: int) -> None:
    spec = cifar_resnet(depth)
    assert spec.stages == (n, n, n)
    assert spec.stage_planes == (16, 32, 64)
    assert spec.depth == depth
    assert spec.output_stride == 4
    assert spec.shortcut is Shortcut.A  # the paper's CIFAR choice


@pytest.mark.parametrize(("depth", "block", "message"), [
    (51, Block.BOTTLENECK, "nearest are 50 and 53"),
    (19, Block.BASIC, "nearest are 18 and 20"),
    (6, Block.BASIC, "smallest is 10"),
])
def test_impossible_depths_name_the_nearest_possible_ones(depth: int, block: Block, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stages_for_depth(depth, block)


def test_depth_sets_three_equal_stages_for_a_cifar_stem_and_four_otherwise() -> None:
    resnet50 = PRESETS["resnet50"]
    bottlenecks = spec_for_depth(resnet50.with_changes(stem="cifar"), 20)  # 9n+2 with three layers a block
    assert bottlenecks.stages == (2, 2, 2) and bottlenecks.block is Block.BOTTLENECK
    assert bottlenecks.stage_planes == (64, 128, 256) and bottlenecks.dilate == (False, False)
    assert spec_for_depth(resnet50.with_changes(stem="cifar", block="basic"), 20).stages == (3, 3, 3)
    assert spec_for_depth(PRESETS["cifar_resnet20"], 56) == cifar_resnet(56)  # same count: 16/32/64 planes stay
    assert spec_for_depth(PRESETS["cifar_resnet20"].with_changes(stem="imagenet"), 34).stages == (3, 4, 6, 3)
    assert spec_for_depth(resnet50.with_changes(stages=(1, 1, 1)), 101).stages == (3, 4, 23, 3)


def test_cifar_depth_that_does_not_split_equally_is_refused() -> None:
    with pytest.raises(ValueError, match="6n\\+2; the nearest are 20 and 26"):
        cifar_resnet(22)


@pytest.mark.parametrize(("fields", "message"), [
    ({"stages": ()}, "at least one stage"),
    ({"stages": (2, 0, 2, 2)}, "at least one block"),
    ({"stages": (2, 2, 2, 2), "block": "basic", "groups": 32}, "BasicBlock has no grouped"),
    ({"stages": (2, 2, 2, 2), "block": "basic", "width_per_group": 128}, "BasicBlock has no grouped"),
    ({"stages": (2, 2, 2, 2), "block": "basic", "dilate": (False, True, True)}, "does not support dilation"),
    ({"stage_planes": (64, 128)}, "one width per stage"),
    ({"stage_planes": (64, -1, 256, 512)}, "at least one channel"),
    ({"num_classes": 0}, "num_classes must be a positive"),
    ({"in_channels": -3}, "in_channels must be a positive"),
    ({"groups": 0}, "groups must be a positive"),
    ({"num_classes": 200_000}, "num_classes=200,000 is more than the explorer builds"),
    ({"stem": "vgg"}, "stem='vgg' is not one of"),
    ({"stride_style": "tensorflow"}, "stride_style='tensorflow' is not one of"),
    ({"dilate": (True,)}, "one flag for each stage after the first"),
    ({"stages": (10_000,)}, "far beyond any trained ResNet"),
    ({"width_per_group": 1, "stage_planes": (16, 32, 64, 128)}, "narrower than one channel"),
    ({"shortcut": "A", "stage_planes": (64, 32, 256, 512), "block": "basic"}, "cannot shrink 64 channels to 32"),
])
def test_impossible_specs_raise_a_readable_value_error(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResNetSpec(**fields)


def test_presets_are_named_after_themselves_and_round_trip_through_dicts() -> None:
    for name, spec in PRESETS.items():
        assert spec.name == name
        assert ResNetSpec.from_dict(spec.to_dict()) == spec
        assert get_preset(name) is spec


@pytest.mark.parametrize(("name", "built"), [
    ("resnet18", resnet_for_depth(18)), ("resnet34", resnet_for_depth(34)), ("resnet50", resnet_for_depth(50)),
    ("resnet101", resnet_for_depth(101)), ("resnet152", resnet_for_depth(152)), ("resnet200", resnet_for_depth(200)),
    *((f"cifar_resnet{depth}", cifar_resnet(depth)) for depth in (20, 32, 44, 56, 110, 1202)),
])
def test_preset_rows_equal_the_nets_their_depth_builds(name: str, built: ResNetSpec) -> None:
    assert ResNetSpec(**PRESET_ROWS[name]) == built == PRESETS[name]
    assert built.preset == name


def test_torchvision_presets_are_the_ten_torchvision_resnets() -> None:
    assert TORCHVISION_PRESETS == (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
        "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    )


def test_custom_spec_names_say_what_differs() -> None:
    spec = ResNetSpec(stride_style="caffe", stem="deep", avg_down=True, dilate=(False, True, True), num_classes=2)
    assert spec.name == "resnet50 deep-stem avg-down caffe os8 2cls"
    assert resnet_for_depth(26).name == "resnet26"  # basic blocks below 50 layers, as in the paper
    assert resnet_for_depth(26, "bottleneck").name == "resnet26 bottleneck"
    assert ResNetSpec(stages=(1, 2, 3), block="basic").name == "resnet14 [1,2,3]"
    assert ResNetSpec(stages=(1, 2, 3), block="basic", stage_planes=(8, 16, 32)).name == "resnet14 [1,2,3] planes8-16-32"


def test_strings_from_the_ui_become_enums_and_defaults_follow_the_stage_count() -> None:
    spec = ResNetSpec(stages=[1, 1, 1], block="basic", stem="cifar", shortcut="C")
    assert spec.block is Block.BASIC and spec.stem is Stem.CIFAR and spec.shortcut is Shortcut.C
    assert spec.stage_planes == (64, 128, 256)
    assert spec.dilate == (False, False)
    assert spec.stride_style is StrideStyle.PYTORCH
    assert hash(spec) == hash(ResNetSpec(stages=(1, 1, 1), block=Block.BASIC, stem=Stem.CIFAR, shortcut=Shortcut.C))


def test_unknown_dict_fields_are_named() -> None:
    with pytest.raises(ValueError, match="depthh"):
        ResNetSpec.from_dict({"depthh": 50})


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ValueError, match="resnet18, resnet34"):
        get_preset("resnet19")


@pytest.mark.parametrize(("spec", "stride"), [
    (PRESETS["resnet50"], 32),
    (ResNetSpec(dilate=(False, True, True)), 8),
    (ResNetSpec(dilate=(False, False, True)), 16),
    (PRESETS["cifar_resnet20"], 4),
])
def test_output_stride_counts_only_real_strides(spec: ResNetSpec, stride: int) -> None:
    assert spec.output_stride == stride
    assert check_input_size(spec, stride) == (stride, stride)
    with pytest.raises(ValueError, match=f"each side must be at least {stride} pixels"):
        check_input_size(spec, (stride - 1, 224))


@pytest.mark.parametrize("size", [0, -5, (224,), (1.5, 224), "224", True])
def test_malformed_input_sizes_are_refused(size: object) -> None:
    with pytest.raises(ValueError):
        check_input_size(PRESETS["resnet18"], size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "words"), [
    ({"block": "basic", "middle_conv": "split"}, "use bottleneck blocks"),
    ({"preact": True, "middle_conv": "res2"}, "middle_conv=conv"),
    ({"preact": True, "shortcut": "none"}, "plain network has none"),
    ({"preact": True, "stride_style": "caffe"}, "stride_style=pytorch"),
    ({"middle_conv": "split", "attention": "se"}, "attention=none"),
    ({"middle_conv": "res2", "stride_style": "caffe"}, "stride_style=pytorch"),
    ({"middle_conv": "split", "radix": 3}, "must divide evenly"),
    ({"middle_conv": "split", "groups": 3, "width_per_group": 8}, "must divide evenly"),
    ({"stem": "tiered", "stem_width": 7}, "use stem_width >= 8"),
])
def test_impossible_variants_are_refused_in_words(changes: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ResNetSpec(**changes)


def test_a_field_that_means_nothing_keeps_its_default_so_one_network_is_one_spec() -> None:
    assert ResNetSpec(radix=4, scales=8, attention_reduction=4) == ResNetSpec()
    assert ResNetSpec(middle_conv="split", radix=4).radix == 4
    assert ResNetSpec(attention="eca", attention_reduction=4) == ResNetSpec(attention="eca")


def test_family_spec_names_say_the_variant_and_its_size() -> None:
    assert PRESETS["seresnet50"].with_changes(attention_reduction=8).name == "resnet50 se-r8"
    assert PRESETS["seresnet50"].with_changes(attention_reduction=4).name == "resnet50 se-r4"
    assert PRESETS["resnest50d"].with_changes(radix=4).name == "resnet50 deep-stem avg-down split-attention-r4"
    assert PRESETS["res2net50_26w_4s"].with_changes(scales=3).name == "resnet50 26w res2-3s"
    assert ResNetSpec(attention="eca").name == "resnet50 eca"
    assert ResNetSpec(preact=True, zero_init_residual=True).name == "resnet50 preact zero-init"
