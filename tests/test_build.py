"""build_model: torchvision parity for standard specs, and each variant doing what it says."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from explorer.model.blocks import SpecBasicBlock, SpecBottleneck
from explorer.model.build import ZeroPadShortcut, build_model, zero_init_target
from explorer.model.presets import PRESETS, TORCHVISION_PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec


@pytest.mark.parametrize("name", TORCHVISION_PRESETS)
def test_state_dict_keys_and_shapes_equal_torchvision(name: str) -> None:
    with torch.device("meta"):
        reference = torchvision.models.get_model(name).state_dict()
    ours = build_model(PRESETS[name], "meta").state_dict()
    assert list(ours) == list(reference)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.items()}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_same_seed_gives_torchvisions_weights_and_outputs(name: str) -> None:
    torch.manual_seed(7)
    reference = torchvision.models.get_model(name).eval()
    ours = build_model(PRESETS[name], seed=7)
    for (key, a), b in zip(reference.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), key
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


def test_a_torchvision_checkpoint_loads_strictly() -> None:
    reference = torchvision.models.resnet34().eval()
    ours = build_model(PRESETS["resnet34"], seed=123)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))


def test_seed_is_reproducible_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    a = build_model(PRESETS["cifar_resnet20"], seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_model(PRESETS["cifar_resnet20"], seed=3)
    c = build_model(PRESETS["cifar_resnet20"], seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_meta_models_allocate_no_weights_and_real_ones_are_in_eval_mode() -> None:
    meta = build_model(PRESETS["wide_resnet101_2"], "meta")
    assert all(p.is_meta for p in meta.parameters())
    assert not build_model(PRESETS["resnet18"]).training


@pytest.mark.parametrize(("name", "dilate"), [
    ("resnet18", (False, False, False)), ("resnet50", (False, False, False)), ("resnext101_32x8d", (False, False, False)),
    ("wide_resnet50_2", (False, False, False)), ("resnet50", (False, True, True)),
])
def test_the_model_has_the_attributes_torchvisions_resnet_init_leaves(name: str, dilate: tuple[bool, ...]) -> None:
    with torch.device("meta"):
        reference = torchvision.models.get_model(name, replace_stride_with_dilation=list(dilate))
    ours = build_model(PRESETS[name].with_changes(dilate=dilate), "meta")
    for attribute in ("inplanes", "dilation", "groups", "base_width", "_norm_layer"):
        assert getattr(ours, attribute) == getattr(reference, attribute), attribute
    # torchvision code that reads them, e.g. _make_layer appending a stage, makes the same stage.
    block = type(reference.layer1[0])
    with torch.device("meta"):
        appended = ours._make_layer(block, 256, 2, stride=2).state_dict()
        expected = reference._make_layer(block, 256, 2, stride=2).state_dict()
    assert {k: v.shape for k, v in appended.items()} == {k: v.shape for k, v in expected.items()}


@pytest.mark.parametrize("spec", [
    PRESETS["resnet18"], ResNetSpec(stages=(1, 2)), ResNetSpec(stages=(1, 2), stride_style="caffe"),
])
def test_a_plain_block_is_torchvisions_block_without_the_add(spec: ResNetSpec) -> None:
    residual = build_model(spec, seed=0)
    plain = build_model(spec.with_changes(shortcut="none"), seed=1)
    # Strict: the plain net holds exactly the residual net's weights outside the shortcuts.
    plain.load_state_dict({k: v for k, v in residual.state_dict().items() if ".downsample." not in k})
    blocks = [(n, m) for n, m in plain.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert {type(m) for _, m in blocks} <= {SpecBasicBlock, SpecBottleneck}
    assert not any(m.residual for _, m in blocks)
    for name, block in blocks:
        twin = residual.get_submodule(name)
        assert block.downsample is None
        branch = {}  # F(x): the residual block's last BN output, before its in-place add (the hook returns None)
        handle = twin.get_submodule(zero_init_target(twin)[0]).register_forward_hook(lambda m, a, out: branch.update(F=out.clone()))
        x = torch.rand(2, block.conv1.in_channels, 16, 16)
        with torch.no_grad():
            out, residual_out = block(x), twin(x)
        handle.remove()
        torch.testing.assert_close(out, torch.relu(branch["F"]), rtol=0, atol=0)  # relu(F(x)): no add
        assert not torch.equal(out, residual_out)


def test_caffe_blocks_build_each_conv_once_so_a_seed_gives_the_pytorch_style_weights() -> None:
    pytorch = build_model(ResNetSpec(stages=(2, 2, 2)), seed=5)
    caffe = build_model(ResNetSpec(stages=(2, 2, 2), stride_style="caffe"), seed=5)
    assert isinstance(caffe.layer2[0], SpecBottleneck)
    for (key, a), b in zip(pytorch.state_dict().items(), caffe.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_caffe_style_puts_the_stride_on_the_first_1x1() -> None:
    model = build_model(PRESETS["resnet50_caffe"], "meta")
    block = model.layer2[0]
    assert isinstance(block, SpecBottleneck)
    assert block.conv1.stride == (2, 2) and block.conv1.kernel_size == (1, 1)
    assert block.conv2.stride == (1, 1)
    pytorch_block = build_model(PRESETS["resnet50"], "meta").layer2[0]
    assert pytorch_block.conv1.stride == (1, 1) and pytorch_block.conv2.stride == (2, 2)


def test_deep_stem_is_three_3x3_convs_keeping_bn1_and_relu() -> None:
    model = build_model(PRESETS["resnet50c"], "meta")
    convs = [m for m in model.conv1 if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (3, 32, (3, 3), (2, 2)), (32, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1)),
    ]
    assert isinstance(model.bn1, nn.BatchNorm2d) and model.bn1.num_features == 64


def test_avg_down_pools_before_a_stride_1_projection() -> None:
    model = build_model(PRESETS["resnet50d"], "meta")
    pool, conv, bn = model.layer2[0].downsample
    assert isinstance(pool, nn.AvgPool2d) and pool.stride == 2
    assert conv.stride == (1, 1) and isinstance(bn, nn.BatchNorm2d)
    # layer1 does not change resolution: no pooling there, an Identity in its place (timm's layout,
    # so timm's resnet50d keys, downsample.1 and downsample.2, load).
    assert [type(m) for m in model.layer1[0].downsample] == [nn.Identity, nn.Conv2d, nn.BatchNorm2d]


def test_shortcut_option_a_subsamples_and_zero_pads_without_parameters() -> None:
    model = build_model(cifar_resnet(20), seed=0)
    shortcut = model.layer2[0].downsample
    assert isinstance(shortcut, ZeroPadShortcut)
    assert sum(p.numel() for p in shortcut.parameters()) == 0
    x = torch.randn(2, 16, 32, 32)
    y = shortcut(x)
    assert y.shape == (2, 32, 16, 16)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    assert model.layer1[0].downsample is None


def test_shortcut_option_c_projects_in_every_block() -> None:
    model = build_model(PRESETS["resnet18"].with_changes(shortcut="C"), "meta")
    blocks = [b for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for b in stage]
    assert all(isinstance(b.downsample, nn.Sequential) for b in blocks)


def test_dilation_replaces_stride_like_torchvision() -> None:
    spec = ResNetSpec(dilate=(False, True, True))
    with torch.device("meta"):
        reference = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True])
    ours = build_model(spec, "meta")
    dilations = {n: m.dilation for n, m in ours.named_modules() if isinstance(m, nn.Conv2d)}
    assert dilations == {n: m.dilation for n, m in reference.named_modules() if isinstance(m, nn.Conv2d)}
    assert ours.layer4[0].conv2.dilation == (2, 2) and ours.layer4[1].conv2.dilation == (4, 4)
    out = ours.layer4(ours.layer3(ours.layer2(torch.empty(1, 256, 56, 56, device="meta"))))
    assert out.shape == (1, 2048, 28, 28)  # output stride 8


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zero_init_residual_zeroes_the_last_bn_of_every_branch_only(name: str) -> None:
    model = build_model(PRESETS[name].with_changes(zero_init_residual=True), seed=0)
    blocks = [m for m in model.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert blocks
    for block in blocks:
        assert torch.count_nonzero(zero_init_target(block)[1]) == 0
        assert torch.all(block.bn1.weight == 1)


@pytest.mark.parametrize("name", [n for n in PRESETS if n not in ("cifar_resnet1202",)])
def test_every_preset_runs_a_real_forward(name: str) -> None:
    spec = PRESETS[name]
    size = 32 if spec.is_cifar else 64
    model = build_model(spec, "meta")
    out = model(torch.empty(2, spec.in_channels, size, size, device="meta"))
    assert out.shape == (2, spec.num_classes)


def test_small_custom_specs_run_on_real_weights() -> None:
    for spec in (
        ResNetSpec(stages=(1, 1, 1), block="basic", in_channels=1, num_classes=5),
        ResNetSpec(stages=(1, 2), stride_style="caffe", stem="deep", avg_down=True, groups=8, width_per_group=8),
        cifar_resnet(20, shortcut="B"),
    ):
        model = build_model(spec, seed=0)
        with torch.no_grad():
            out = model(torch.randn(2, spec.in_channels, 32, 32))
        assert out.shape == (2, spec.num_classes) and torch.isfinite(out).all()
