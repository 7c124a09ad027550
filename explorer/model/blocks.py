"""Residual blocks beyond torchvision's two, each keeping the module names its checkpoints use.

torchvision's ``BasicBlock`` and ``Bottleneck`` stay the blocks of every spec they build
(`explorer.model.build`). The rest are small classes named as timm names their tensors,
so timm's state dicts load into them:

* `SpecBasicBlock`, `SpecBottleneck` — torchvision's blocks with the stride on the first
  1x1 (the paper's "v1"), without a shortcut (the plain baseline) or with a channel gate
  ``se`` on the residual branch, before the add (timm's ``seresnet*``, ``ecaresnet*``);
* `PreActBasicBlock`, `PreActBottleneck` — BN-ReLU before each conv, nothing after the
  add (He et al. 2016b; timm's ``resnetv2_*``, whose ``normK`` are our ``bnK``);
* `SplitAttentionBottleneck` — ResNeSt's split attention in place of the 3x3 (timm's
  ``resnest*``: radix groups weighed per channel, the stride on a 3x3 average pool after);
* `Res2NetBottleneck` — Res2Net's hierarchy of 3x3 convs over channel scales (timm's
  ``res2net*``).

The gates: torchvision's ``SqueezeExcitation`` (``avgpool``, ``fc1``, ``fc2``, ``scale_activation``)
and `EfficientChannelAttention`. Their pooling and gating are modules of their own, so the
layer table lists them, and `GATES` names the modules that only compute a gate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1, conv3x3
from torchvision.ops import SqueezeExcitation

from explorer.model.depth import make_divisible, split_attention_width

# Makes a block's channel gate for its output channels, or None for no gate.
GateFactory = Callable[[int], nn.Module] | None


def squeeze_excitation(reduction: int) -> Callable[[int], nn.Module]:
    """SE for ``channels``: squeeze to channels / reduction, rounded as timm's ``SEModule`` does."""
    return lambda channels: SqueezeExcitation(channels, make_divisible(channels / reduction, 8, round_limit=0.0))


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): a 1-D conv across the pooled channels replaces SE's two 1x1 convs.

    The kernel grows with log2(channels) as timm's ``EcaModule`` sets it (gamma 2, beta 1).
    """

    def __init__(self, channels: int, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        t = int(abs(math.log(channels, 2) + beta) / gamma)
        kernel = max(t if t % 2 else t + 1, 3)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=kernel, padding=(kernel - 1) // 2, bias=False)
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        pooled = self.avgpool(x).view(n, 1, -1)  # (N, 1, C): channels as a sequence
        gate = self.scale_activation(self.conv(pooled).view(n, -1, 1, 1))  # (N, C, 1, 1)
        return x * gate


def has_gate(module: nn.Module) -> bool:
    """Whether ``module`` multiplies a map by a channel gate it computes (SE, ECA, split attention)."""
    return isinstance(module, (SqueezeExcitation, EfficientChannelAttention, SplitAttention))


def gate_module_names(model: nn.Module) -> frozenset[str]:
    """Qualified names of the modules that only compute a channel gate (a side branch of the block).

    Their outputs are per-channel numbers, not feature maps of the block's path.
    """
    names = set()
    for name, module in model.named_modules():
        if isinstance(module, (SqueezeExcitation, EfficientChannelAttention)):
            names.update(f"{name}.{child}" for child, _ in module.named_children())
        elif isinstance(module, SplitAttention):
            names.update(f"{name}.{child}" for child in SplitAttention.GATE)
    return frozenset(names)


def _gate_add_relu(block: nn.Module, x: Tensor, out: Tensor) -> Tensor:
    """The end of a post-activation block: the gate on F(x) if any, the shortcut added (in place, as
    torchvision adds) unless the block is plain, then the ReLU."""
    if getattr(block, "se", None) is not None:
        out = block.se(out)
    if block.residual:
        out += x if block.downsample is None else block.downsample(x)
    return block.relu(out)


class SpecBasicBlock(BasicBlock):
    """torchvision's BasicBlock, optionally without its shortcut (``residual=False``) or with a gate ``se``."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, *, residual: bool = True,
                 gate: GateFactory = None, **_: object) -> None:
        super().__init__(inplanes, planes, stride, downsample, groups, base_width, dilation, nn.BatchNorm2d)
        self.residual = residual
        self.se = gate(planes) if gate else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return _gate_add_relu(self, x, out)


class SpecBottleneck(Bottleneck):
    """torchvision's Bottleneck with the stride on ``conv1`` (``stride_on_1x1``), no shortcut, or a gate ``se``.

    The caffe-style block is built as a stride-1 Bottleneck whose ``conv1`` then takes the
    stride: every conv is made once, in torchvision's order, so a seed gives the same weights.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, *, stride_on_1x1: bool = False,
                 residual: bool = True, gate: GateFactory = None, **_: object) -> None:
        super().__init__(inplanes, planes, 1 if stride_on_1x1 else stride, downsample, groups, base_width, dilation,
                         nn.BatchNorm2d)
        if stride_on_1x1:
            self.conv1.stride = (stride, stride)  # a 1x1 conv: no padding to change with it
            self.stride = stride
        self.residual = residual
        self.se = gate(planes * self.expansion) if gate else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return _gate_add_relu(self, x, out)


def _gate_add(block: nn.Module, shortcut: Tensor, out: Tensor) -> Tensor:
    """The end of a pre-activation block: the gate on F(x) if any, then the add, and nothing after it."""
    if block.se is not None:
        out = block.se(out)
    out += shortcut
    return out


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3x3 twice, then the add: nothing touches the sum (timm's ``PreActBasic``).

    A projection shortcut takes the pre-activated input, as in timm and He et al. 2016b.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, *, gate: GateFactory = None,
                 **_: object) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.se = gate(planes) if gate else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        preact = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(preact)
        out = self.conv2(self.relu(self.bn2(self.conv1(preact))))
        return _gate_add(self, shortcut, out)


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3 (the stride), BN-ReLU-conv1x1, then the add (timm's ``PreActBottleneck``)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, *, gate: GateFactory = None,
                 **_: object) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv1x1(inplanes, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.se = gate(planes * self.expansion) if gate else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        preact = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(preact)
        out = self.conv1(preact)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return _gate_add(self, shortcut, out)


class RadixSoftmax(nn.Module):
    """A softmax across the radix groups of each channel (a sigmoid for radix 1), as timm's ``RadixSoftmax``."""

    def __init__(self, radix: int, groups: int) -> None:
        super().__init__()
        self.radix = radix
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if self.radix > 1:
            x = x.view(n, self.groups, self.radix, -1).transpose(1, 2).softmax(dim=1)
        else:
            x = x.sigmoid()
        return x.reshape(n, -1, 1, 1)  # (N, radix * C, 1, 1)

    def extra_repr(self) -> str:
        return f"radix={self.radix}, groups={self.groups}"


class SplitAttention(nn.Module):
    """ResNeSt's 3x3 (timm's ``SplitAttn``): ``radix`` grouped 3x3 convs, weighed per channel by a gate.

    The gate pools the sum of the radix groups, squeezes it (``fc1``, at least 32 channels),
    and gives each group's channels a softmax weight (``fc2``, `RadixSoftmax`).
    """

    GATE = ("avgpool", "fc1", "bn1", "act1", "fc2", "rsoftmax")  # the modules that compute the weights

    def __init__(self, channels: int, stride: int = 1, dilation: int = 1, groups: int = 1, radix: int = 2) -> None:
        super().__init__()
        mid = channels * radix
        squeezed = split_attention_width(channels, radix)
        self.radix = radix
        self.conv = nn.Conv2d(channels, mid, 3, stride, padding=dilation, dilation=dilation, groups=groups * radix,
                              bias=False)
        self.bn0 = nn.BatchNorm2d(mid)
        self.act0 = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(squeezed)
        self.act1 = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, mid, 1, groups=groups)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act0(self.bn0(self.conv(x)))  # (N, radix * C, H, W)
        n, channels, height, width = x.shape
        splits = x.reshape(n, self.radix, channels // self.radix, height, width)
        pooled = self.avgpool(splits.sum(dim=1))  # (N, C, 1, 1)
        weights = self.rsoftmax(self.fc2(self.act1(self.bn1(self.fc1(pooled)))))  # (N, radix * C, 1, 1)
        weights = weights.reshape(n, self.radix, channels // self.radix, 1, 1)
        return (splits * weights).sum(dim=1)  # (N, C, H, W)


class SplitAttentionBottleneck(nn.Module):
    """ResNeSt's bottleneck (timm's ``ResNestBottleneck`` with ``avd``): 1x1, split attention, 3x3 avg pool, 1x1;
    with ``avd_first`` the pool comes before the split attention."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, *, radix: int = 2, avd_first: bool = False,
                 residual: bool = True, **_: object) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        # timm's "avd": the stride moves from the 3x3 to an average pool before or after it.
        # Registered in execution order (the receptive field walks children in this order).
        self.avd_first = nn.AvgPool2d(3, stride, padding=1) if stride > 1 and avd_first else None
        self.conv2 = SplitAttention(width, 1, dilation, groups, radix)
        self.avd_last = nn.AvgPool2d(3, stride, padding=1) if stride > 1 and not avd_first else None
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        if self.avd_first is not None:
            out = self.avd_first(out)
        out = self.conv2(out)
        if self.avd_last is not None:
            out = self.avd_last(out)
        out = self.bn3(self.conv3(out))
        return _gate_add_relu(self, x, out)


class Res2NetBottleneck(nn.Module):
    """Res2Net's bottleneck (timm's ``Bottle2neck``): the 3x3 works on ``scales`` channel groups in a hierarchy.

    Group i > 0 gets a 3x3 conv after adding the previous group's output, so later groups see
    ever larger windows; the last group passes through. A block that strides or projects
    (``is_first``) convolves each group on its own and average-pools the last one.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 26, dilation: int = 1, *, scales: int = 4, residual: bool = True,
                 gate: GateFactory = None, **_: object) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64.0))) * groups
        self.width = width
        self.scales = scales
        self.is_first = stride > 1 or downsample is not None
        self.conv1 = conv1x1(inplanes, width * scales)
        self.bn1 = nn.BatchNorm2d(width * scales)
        steps = max(1, scales - 1)
        self.convs = nn.ModuleList(conv3x3(width, width, stride, groups, dilation) for _ in range(steps))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(steps))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=stride, padding=1) if self.is_first and scales > 1 else None
        self.conv3 = conv1x1(width * scales, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.se = gate(planes * self.expansion) if gate else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        pieces = torch.split(out, self.width, dim=1)  # `scales` groups of `width` channels
        outs = []
        piece = pieces[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            piece = pieces[i] if i == 0 or self.is_first else piece + pieces[i]
            piece = self.relu(bn(conv(piece)))
            outs.append(piece)
        if self.scales > 1:
            outs.append(pieces[-1] if self.pool is None else self.pool(pieces[-1]))
        out = self.bn3(self.conv3(torch.cat(outs, dim=1)))
        return _gate_add_relu(self, x, out)


# Every residual block class a built model may hold.
BLOCK_TYPES = (BasicBlock, Bottleneck, PreActBasicBlock, PreActBottleneck, SplitAttentionBottleneck, Res2NetBottleneck)
