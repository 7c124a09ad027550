"""The family beyond v1 against timm: every preset timm names equals timm's model exactly.

Parameter counts and output shapes are compared on the meta device; real forwards of a few
models, with timm's own random weights (and BN statistics) loaded through the checkpoint
upload boundary, must give timm's outputs. timm is a test-only dependency.
"""

from __future__ import annotations

import io
from functools import partial

import pytest
import timm
import torch
from timm.layers import SEModule

from explorer.analysis.anatomy import layer_table
from explorer.model.checkpoint import read_checkpoint
from explorer.model.fitting import guess_spec, load_checkpoint_model
from explorer.model.build import build_model
from explorer.model.presets import PRESETS, TIMM_PRESETS, TORCHVISION_PRESETS
from explorer.model.spec import spec_for_depth


# The named presets: each must also load timm's state dict.
NAMED = ["resnetv2_50", "resnetv2_101", "seresnet50", "seresnext50_32x4d", "ecaresnet50d", "resnest50d",
         "res2net50_26w_4s"]
# Each also loads timm's state dict and gives timm's outputs: the named ones, and one of each other layout.
LOADED = [*NAMED, "resnetv2_18d", "seresnet18", "res2next50", "resnest50d_4s2x40d", "seresnext26t_32x4d"]


def timm_meta(name: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return timm.create_model(name, **kwargs)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_timm_presets_are_every_preset_timm_builds_beyond_torchvisions() -> None:
    assert set(NAMED) <= set(TIMM_PRESETS)
    beyond = {name for name in PRESETS if name not in TORCHVISION_PRESETS}
    assert set(TIMM_PRESETS) == beyond & set(timm.list_models())


@pytest.mark.parametrize("name", TIMM_PRESETS)
def test_parameters_and_output_shape_equal_timms(name: str) -> None:
    reference, ours = timm_meta(name), build_model(PRESETS[name], "meta")
    assert count(ours) == count(reference)
    assert layer_table(PRESETS[name], 224).totals.params == count(reference)
    x = torch.empty(2, 3, 160, 160, device="meta")
    assert ours(x).shape == reference(x).shape == (2, 1000)
    assert ours.spec.name == name


@pytest.mark.parametrize(("name", "depth"), [
    ("resnetv2_50", 26), ("resnetv2_50", 152), ("resnetv2_18", 10), ("seresnet50", 26), ("seresnet18", 34),
    ("seresnext50_32x4d", 101), ("ecaresnet50d", 26), ("resnest50d", 14), ("resnest50d", 200),
    ("res2net50_26w_4s", 26), ("res2net50_14w_8s", 101), ("resnest50d_4s2x40d", 101), ("resnet50t", 101),
    ("resnet10t", 34), ("seresnext26t_32x4d", 50),
])
def test_custom_depths_equal_timms_model_with_those_stage_counts(name: str, depth: int) -> None:
    spec = spec_for_depth(PRESETS[name], depth)
    reference = timm_meta(name, layers=list(spec.stages))
    assert count(build_model(spec, "meta")) == count(reference)
    assert spec.depth == depth


@pytest.mark.parametrize(("name", "changes", "timm_kwargs"), [
    ("resnest50d", {"groups": 2, "width_per_group": 40, "radix": 4}, {"cardinality": 2, "base_width": 40,
     "block_args": {"radix": 4, "avd": True, "avd_first": False}}),
    ("seresnet50", {"attention_reduction": 8}, {"block_args": {"attn_layer": partial(SEModule, rd_ratio=1 / 8)}}),
    ("seresnet18", {"attention_reduction": 4}, {"block_args": {"attn_layer": partial(SEModule, rd_ratio=1 / 4)}}),
    # 256 / 13 = 19.7 rounds down to 16 (timm's SEModule: round_limit 0), not up to 24.
    ("seresnet50", {"attention_reduction": 13}, {"block_args": {"attn_layer": partial(SEModule, rd_ratio=1 / 13)}}),
    ("resnest50d", {"radix": 4}, {"block_args": {"radix": 4, "avd": True, "avd_first": False}}),
    ("res2net50_26w_4s", {"scales": 6}, {"block_args": {"scale": 6}}),
    ("res2net50_26w_4s", {"width_per_group": 48}, {"base_width": 48}),
])
def test_custom_widths_equal_timms(name: str, changes: dict, timm_kwargs: dict) -> None:
    assert count(build_model(PRESETS[name].with_changes(**changes), "meta")) == count(timm_meta(name, **timm_kwargs))


def _timm_with_statistics(name: str) -> torch.nn.Module:
    """timm's model with its random init and random BN statistics, so that every tensor matters."""
    model = timm.create_model(name).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) * 0.2 - 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
    return model


def _saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "counters"), [
    *[pytest.param(name, False, id=f"{name}-without-num-batches-tracked") for name in LOADED],
    *[pytest.param(name, True, id=f"{name}-with-num-batches-tracked") for name in ("resnetv2_50", "seresnet50")],
])
def test_timms_state_dict_loads_through_the_upload_boundary_and_gives_timms_outputs(name: str, counters: bool) -> None:
    reference = _timm_with_statistics(name)
    state = {k: v for k, v in reference.state_dict().items() if counters or not k.endswith("num_batches_tracked")}
    checkpoint = read_checkpoint(_saved(state))
    assert guess_spec(checkpoint.state_dict) == PRESETS[name]
    model = load_checkpoint_model(PRESETS[name], checkpoint)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(x), model(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_a_resnetv2_checkpoint_says_its_names_were_read_as_ours() -> None:
    state = timm_meta("resnetv2_18").state_dict()
    checkpoint = read_checkpoint(_saved({k: torch.zeros(v.shape, dtype=v.dtype) for k, v in state.items()}))
    assert "layer1.0.bn1.weight" in checkpoint.state_dict and "final_bn.weight" in checkpoint.state_dict
    assert checkpoint.state_dict["fc.weight"].shape == (1000, 512)
    assert checkpoint.num_classes == 1000
    assert any("ResNetV2" in note for note in checkpoint.notes)


@pytest.mark.parametrize("spec", [
    # Where the pool sits no tensor shows: these widths are published pooling first, others not.
    PRESETS["resnest50d_4s2x40d"], PRESETS["resnest50d_1s4x24d"].with_changes(num_classes=10),
    PRESETS["resnest50d"].with_changes(groups=2, width_per_group=40),
    PRESETS["resnest50d"].with_changes(radix=4), PRESETS["res2net50_26w_4s"].with_changes(scales=6),
    PRESETS["res2next50"], PRESETS["seresnet50"].with_changes(attention_reduction=8), PRESETS["seresnext101_32x8d"],
    PRESETS["ecaresnet101d"], PRESETS["cifar_preact_resnet164"], PRESETS["resnetv2_18"],
    # Narrow gates round alike (64 channels: r = 8, 16, 32 all squeeze to 8): every gate decides.
    PRESETS["seresnet18"].with_changes(attention_reduction=8), PRESETS["seresnet50"].with_changes(attention_reduction=13),
    # One block a stage: B and C hold the same tensors but where a block keeps its shape.
    PRESETS["resnest14d"], PRESETS["resnet18"].with_changes(stages=(1, 1, 1, 1), shortcut="C"),
    # A tiered stem: its first conv narrower than its second.
    PRESETS["resnet10t"], PRESETS["ecaresnet26t"].with_changes(stem_width=128, in_channels=1),
], ids=lambda spec: spec.name)
def test_the_family_spec_is_guessed_from_its_state_dict(spec) -> None:
    """A grouped ResNeSt's radix is the 3x3's outputs / the gate's input / the gate's groups."""
    assert guess_spec(build_model(spec, "meta").state_dict()) == spec


@pytest.mark.parametrize(("radix", "groups"), [(1, 1), (1, 3), (2, 3), (4, 1)])
def test_the_radix_softmax_is_timms_and_a_sigmoid_for_radix_1(radix: int, groups: int) -> None:
    from timm.layers.split_attn import RadixSoftmax as TimmRadixSoftmax

    from explorer.model.blocks import RadixSoftmax

    x = torch.randn(2, 12, 1, 1, generator=torch.Generator().manual_seed(0))
    got = RadixSoftmax(radix, groups)(x)
    torch.testing.assert_close(got, TimmRadixSoftmax(radix, groups)(x).reshape(2, -1, 1, 1))
    if radix == 1:
        torch.testing.assert_close(got, x.sigmoid())
