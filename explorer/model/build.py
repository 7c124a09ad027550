"""Build a real ``nn.Module`` from a `ResNetSpec` out of torchvision's ResNet classes.

For every spec that torchvision ships (``resnet18`` ... ``wide_resnet101_2``) the module
names, parameter shapes and even the random initialisation for a given seed equal
``torchvision.models.get_model(name)``'s, so official checkpoints load unchanged. Variants
torchvision lacks are small additions that keep torchvision's names:

* the blocks of `explorer.model.blocks`: the stride on the first 1x1 conv (He et al. 2016's
  original placement), the paper's plain baseline (no ``out += identity``, no shortcut
  module), channel attention, pre-activation, split attention and Res2Net;
* `ZeroPadShortcut` — option A: strided identity plus zero channels, no parameters;
* deep stem — ``conv1`` becomes three 3x3 convs (``conv1.0``, ``conv1.3``, ``conv1.6``),
  as timm names it, followed by torchvision's ``bn1`` and ``relu``;
* avg-down shortcut — ``downsample = [AvgPool2d, conv1x1, BN]``, the pool an ``Identity``
  where the block keeps the resolution (timm's layout, so its ``*d`` checkpoints load);
* pre-activation — no BN-ReLU in the stem, a shortcut without BN (``downsample.pool``,
  ``downsample.conv``, as timm's ResNetV2) and ``final_bn``/``final_relu`` before the pool;
* CIFAR stem — a 3x3/1 ``conv1`` and ``maxpool = Identity``; any number of stages.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3

from explorer.model.blocks import (BLOCK_TYPES, EfficientChannelAttention, GateFactory, PreActBasicBlock,
                                   PreActBottleneck, Res2NetBottleneck, SpecBasicBlock, SpecBottleneck,
                                   SplitAttentionBottleneck, squeeze_excitation)
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem, StrideStyle
from explorer.model.spec import ResNetSpec
from explorer.runtime.private_rng import private_rng


class ZeroPadShortcut(nn.Module):
    """Shortcut option A: keep every ``stride``-th pixel, append zero channels.

    Parameter-free, as in the paper's CIFAR experiments (He et al. 2016, section 4.2).
    """

    def __init__(self, stride: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.stride = stride
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, C_in, ceil(H/s), ceil(W/s))
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))  # (N, C_out, ...)

    def extra_repr(self) -> str:
        return f"stride={self.stride}, channels={self.in_channels}->{self.out_channels}"


def _stem_conv(spec: ResNetSpec) -> nn.Module:
    """``conv1``: 7x7/2 (ImageNet), three 3x3 convs (deep, tiered: timm's widths) or 3x3/1 (CIFAR)."""
    if spec.stem is Stem.IMAGENET:
        return nn.Conv2d(spec.in_channels, spec.stem_width, kernel_size=7, stride=2, padding=3, bias=False)
    if spec.stem is Stem.CIFAR:
        return conv3x3(spec.in_channels, spec.stem_width)
    half = spec.stem_width // 2
    first = 3 * (half // 4) if spec.stem is Stem.TIERED else half
    return nn.Sequential(
        conv3x3(spec.in_channels, first, stride=2), nn.BatchNorm2d(first), nn.ReLU(inplace=True),
        conv3x3(first, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        conv3x3(half, spec.stem_width),
    )


def _shortcut(spec: ResNetSpec, inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
    """The block's ``downsample``: None for an identity shortcut and in a plain network."""
    shape_changes = stride != 1 or inplanes != outplanes
    if spec.shortcut is Shortcut.NONE:
        return None
    if spec.shortcut is Shortcut.A:
        return ZeroPadShortcut(stride, inplanes, outplanes) if shape_changes else None
    if spec.shortcut is Shortcut.B and not shape_changes:
        return None
    if spec.preact:  # timm's ResNetV2 names: downsample.pool (if avg-down), downsample.conv; no BN
        parts = [("pool", _avg_down_pool(stride))] if spec.avg_down else []
        return nn.Sequential(OrderedDict([*parts, ("conv", conv1x1(inplanes, outplanes, 1 if spec.avg_down else stride))]))
    if spec.avg_down:
        return nn.Sequential(_avg_down_pool(stride), conv1x1(inplanes, outplanes), nn.BatchNorm2d(outplanes))
    return nn.Sequential(conv1x1(inplanes, outplanes, stride), nn.BatchNorm2d(outplanes))


def _avg_down_pool(stride: int) -> nn.Module:
    """The avg-down shortcut's pool; an Identity where the block keeps the resolution, as timm keeps its place."""
    return nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False) if stride != 1 else nn.Identity()


def _gate(spec: ResNetSpec) -> GateFactory:
    """The channel gate each block puts on its residual branch, or None."""
    if spec.attention is Attention.SE:
        return squeeze_excitation(spec.attention_reduction)
    if spec.attention is Attention.ECA:
        return EfficientChannelAttention
    return None


def _block_class(spec: ResNetSpec) -> type[nn.Module]:
    """torchvision's block where it is the spec's, else the `explorer.model.blocks` class that is."""
    basic = spec.block is Block.BASIC
    if spec.preact:
        return PreActBasicBlock if basic else PreActBottleneck
    if spec.middle_conv is MiddleConv.SPLIT:
        return SplitAttentionBottleneck
    if spec.middle_conv is MiddleConv.RES2:
        return Res2NetBottleneck
    plain = spec.shortcut is Shortcut.NONE
    caffe = spec.stride_style is StrideStyle.CAFFE and not basic
    if not (plain or caffe or spec.attention is not Attention.NONE):
        return BasicBlock if basic else Bottleneck
    return SpecBasicBlock if basic else SpecBottleneck


def _block_options(spec: ResNetSpec, block_cls: type[nn.Module]) -> dict[str, object]:
    """The keyword arguments the `explorer.model.blocks` classes take beyond torchvision's."""
    if block_cls in (BasicBlock, Bottleneck):
        return {}
    return dict(stride_on_1x1=spec.stride_style is StrideStyle.CAFFE, residual=spec.shortcut is not Shortcut.NONE,
                gate=_gate(spec), radix=spec.radix, avd_first=spec.avd_first, scales=spec.scales)


def _stage(spec: ResNetSpec, stage: int) -> nn.Sequential:
    """One ``layerN``; widths, stride and dilation come from the spec, not running state."""
    block_cls = _block_class(spec)
    options = _block_options(spec, block_cls)
    planes = spec.stage_planes[stage]
    out_channels = spec.stage_out_channels(stage)
    stride = spec.stage_stride(stage)
    dilation = spec.stage_dilation(stage)
    first_dilation = spec.stage_dilation(stage - 1) if stage > 0 else 1
    blocks = []
    for index in range(spec.stages[stage]):
        first = index == 0
        inplanes = spec.stage_in_channels(stage) if first else out_channels
        block_stride = stride if first else 1
        # The shortcut is made before its block, as torchvision does: same RNG order.
        downsample = _shortcut(spec, inplanes, out_channels, block_stride)
        blocks.append(block_cls(
            inplanes, planes, block_stride, downsample, spec.groups, spec.width_per_group,
            first_dilation if first else dilation, **options,
        ))
    return nn.Sequential(*blocks)


class SpecResNet(ResNet):
    """A torchvision ``ResNet`` assembled from a spec, with any number of stages.

    ``ResNet.__init__`` is skipped: it hard-codes the 7x7 stem and four stages, and builds
    them with ``_make_layer``, which changes ``self.inplanes`` and ``self.dilation`` as it
    goes. Here each stage is built from the spec (`_stage`), and the state ``ResNet.__init__``
    leaves behind is set to the values it would have after building this network:
    ``inplanes`` (channels out of the last stage), ``dilation`` (the last stage's),
    ``groups``, ``base_width`` and ``_norm_layer``, so torchvision code that reads them
    (``_make_layer`` appending a stage, for one) sees what it expects.
    """

    def __init__(self, spec: ResNetSpec, init_weights: bool = True) -> None:
        nn.Module.__init__(self)
        last = len(spec.stages) - 1
        self.spec = spec
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = spec.stage_out_channels(last)
        self.dilation = spec.stage_dilation(last)
        self.groups = spec.groups
        self.base_width = spec.width_per_group
        self.conv1 = _stem_conv(spec)
        if not spec.preact:  # a pre-activation net's first block normalizes the stem's output itself
            self.bn1 = nn.BatchNorm2d(spec.stem_width)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if spec.stem is Stem.CIFAR else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage_names = spec.stage_names
        for i, name in enumerate(self.stage_names):
            self.add_module(name, _stage(spec, i))
        if spec.preact:  # the sum of every block's branches, normalized once (timm's ResNetV2 ``norm``)
            self.final_bn = nn.BatchNorm2d(spec.stage_out_channels(last))
            self.final_relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(spec.stage_out_channels(last), spec.num_classes)
        if init_weights:
            _init_weights(self, spec.zero_init_residual)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        if not self.spec.preact:
            x = self.relu(self.bn1(x))
        x = self.maxpool(x)  # (N, stem_width, H/4, W/4)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if self.spec.preact:
            x = self.final_relu(self.final_bn(x))
        x = torch.flatten(self.avgpool(x), 1)  # (N, C_last)
        return self.fc(x)  # (N, num_classes)


def is_block(module: nn.Module) -> bool:
    """Whether ``module`` is one residual block (of any kind a spec builds)."""
    return isinstance(module, BLOCK_TYPES)


def zero_init_target(block: nn.Module) -> tuple[str, nn.Parameter]:
    """The weight ``zero_init_residual`` zeroes in ``block``, and its name there, as timm's ``zero_init_last``.

    Post-activation blocks end their residual branch in a BN: its γ (``bn2`` or ``bn3``),
    before any channel gate. A pre-activation block ends in a conv, so its weight is zeroed.
    """
    if isinstance(block, PreActBasicBlock):
        return "conv2", block.conv2.weight
    if isinstance(block, PreActBottleneck):
        return "conv3", block.conv3.weight
    name = "bn2" if isinstance(block, BasicBlock) else "bn3"
    return name, getattr(block, name).weight


def residual_branch_end(block: nn.Module) -> str:
    """The name, in ``block``, of the module whose output is the residual branch F(x), just before the add."""
    return "se" if getattr(block, "se", None) is not None else zero_init_target(block)[0]


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    """torchvision's ResNet initialisation, step for step (He init, BN = 1/0, optional zero gamma).

    Re-typed because torchvision writes these loops inline in ``ResNet.__init__``, which
    this model does not run (see `SpecResNet`). ``zero_init_residual`` zeroes what timm's
    ``zero_init_last`` zeroes in each block kind (`zero_init_target`).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        # Goyal et al. 2017 (https://arxiv.org/abs/1706.02677): every block starts as identity.
        for m in model.modules():
            if is_block(m):
                nn.init.zeros_(zero_init_target(m)[1])


def build_model(spec: ResNetSpec, device: str | torch.device = "cpu", seed: int | None = None) -> SpecResNet:
    """A fresh model for ``spec`` in eval mode on ``device``.

    ``device="meta"`` allocates no weights (for shapes and counts). Real weights are made
    on the CPU and then moved, so a seed gives the same weights on every device. They are
    drawn from a private generator (`private_rng`), so concurrent sessions never disturb one
    another's seeds and torch's global generator is never touched.
    """
    device = torch.device(device)
    if device.type == "meta":
        with torch.device("meta"):
            return SpecResNet(spec, init_weights=False).eval()  # meta tensors hold no values
    with private_rng(seed):
        model = SpecResNet(spec)
    return model.to(device).eval()
