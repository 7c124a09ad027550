"""Build a real ``nn.Module`` from a `ResNetSpec` out of torchvision's ResNet classes.

For every spec that torchvision ships (``resnet18`` ... ``wide_resnet101_2``) the module
names, parameter shapes and even the random initialisation for a given seed equal
``torchvision.models.get_model(name)``'s, so official checkpoints load unchanged. Variants
torchvision lacks are small additions that keep torchvision's names:

* `CaffeBottleneck` — stride on the first 1x1 conv (He et al. 2016's original placement);
* `ZeroPadShortcut` — option A: strided identity plus zero channels, no parameters;
* `PlainBasicBlock`, `PlainBottleneck`, `PlainCaffeBottleneck` — the paper's plain baseline:
  torchvision's blocks without ``out += identity`` (no shortcut module at all);
* deep stem — ``conv1`` becomes three 3x3 convs (``conv1.0``, ``conv1.3``, ``conv1.6``),
  as timm names it, followed by torchvision's ``bn1`` and ``relu``;
* avg-down shortcut — ``downsample = [AvgPool2d, conv1x1, BN]`` (mmcls ResNetV1d);
* CIFAR stem — a 3x3/1 ``conv1`` and ``maxpool = Identity``; any number of stages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3

from explorer.runtime.private_rng import private_rng
from explorer.model.kinds import Block, Shortcut, Stem, StrideStyle
from explorer.model.spec import ResNetSpec


class CaffeBottleneck(Bottleneck):
    """torchvision's Bottleneck with the stride moved to ``conv1`` (the paper's "v1").

    Built as a stride-1 Bottleneck whose ``conv1`` then takes the stride: every conv is made
    once, in torchvision's order, so a seed gives the same weights as the pytorch-style block.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: type[nn.Module] | None = None) -> None:
        super().__init__(inplanes, planes, 1, downsample, groups, base_width, dilation, norm_layer)
        self.conv1.stride = (stride, stride)  # a 1x1 conv: no padding to change with it
        self.stride = stride


class PlainBasicBlock(BasicBlock):
    """A BasicBlock without its shortcut: relu(F(x)), the paper's plain baseline (section 4.1)."""

    def forward(self, x: Tensor) -> Tensor:  # BasicBlock.forward without ``out += identity``
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out)


class PlainBottleneck(Bottleneck):
    """A Bottleneck without its shortcut: relu(F(x)), the paper's plain baseline."""

    def forward(self, x: Tensor) -> Tensor:  # Bottleneck.forward without ``out += identity``
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out)


class PlainCaffeBottleneck(CaffeBottleneck, PlainBottleneck):
    """`CaffeBottleneck`'s convs with `PlainBottleneck`'s forward."""


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
    """``conv1``: 7x7/2 (ImageNet), three 3x3 convs (deep) or 3x3/1 (CIFAR)."""
    if spec.stem is Stem.IMAGENET:
        return nn.Conv2d(spec.in_channels, spec.stem_width, kernel_size=7, stride=2, padding=3, bias=False)
    if spec.stem is Stem.CIFAR:
        return conv3x3(spec.in_channels, spec.stem_width)
    half = spec.stem_width // 2
    return nn.Sequential(
        conv3x3(spec.in_channels, half, stride=2), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        conv3x3(half, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
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
    layers: list[nn.Module] = []
    if spec.avg_down and stride != 1:
        layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        stride = 1
    layers += [conv1x1(inplanes, outplanes, stride), nn.BatchNorm2d(outplanes)]
    return nn.Sequential(*layers)


def _block_class(spec: ResNetSpec) -> type[BasicBlock | Bottleneck]:
    plain = spec.shortcut is Shortcut.NONE
    if spec.block is Block.BASIC:
        return PlainBasicBlock if plain else BasicBlock
    if spec.stride_style is StrideStyle.CAFFE:
        return PlainCaffeBottleneck if plain else CaffeBottleneck
    return PlainBottleneck if plain else Bottleneck


def _stage(spec: ResNetSpec, stage: int) -> nn.Sequential:
    """One ``layerN``; widths, stride and dilation come from the spec, not running state."""
    block_cls = _block_class(spec)
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
            first_dilation if first else dilation, nn.BatchNorm2d,
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
        self.bn1 = nn.BatchNorm2d(spec.stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if spec.stem is Stem.CIFAR else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage_names = spec.stage_names
        for i, name in enumerate(self.stage_names):
            self.add_module(name, _stage(spec, i))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(spec.stage_out_channels(last), spec.num_classes)
        if init_weights:
            _init_weights(self, spec.zero_init_residual)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, stem_width, H/4, W/4)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        x = torch.flatten(self.avgpool(x), 1)  # (N, C_last)
        return self.fc(x)  # (N, num_classes)


def last_bn_name(block: Block) -> str:
    """The name of the BN that ends a block's residual branch: torchvision's ``bn2`` or ``bn3``."""
    return "bn2" if block is Block.BASIC else "bn3"


def residual_branch_last_bn(block: nn.Module) -> nn.BatchNorm2d:
    """The BN that ends a block's residual branch (the one zero_init_residual zeroes)."""
    return getattr(block, last_bn_name(Block.BASIC if isinstance(block, BasicBlock) else Block.BOTTLENECK))


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    """torchvision's ResNet initialisation, step for step (He init, BN = 1/0, optional zero gamma).

    Re-typed because torchvision writes these loops inline in ``ResNet.__init__``, which
    this model does not run (see `SpecResNet`).
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
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.constant_(residual_branch_last_bn(m).weight, 0)


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
