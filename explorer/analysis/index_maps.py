"""A module tree as index maps, one axis at a time: which input indices an output index reads.

Each conv or pool maps a set of output indices to the input indices its windows touch
(kernel, stride, padding, dilation), clipped to the tensor (padding is no pixel); a residual
block takes the union of its main path and its shortcut, and Res2Net's channel groups are
paths of their own, joined the same way. Channel gates (SE, ECA, split attention's weights)
pool the whole map: as in the layer table, they are no part of the window, which follows the
feature maps' path. BN and ReLU are pointwise. `receptive_field` composes these maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn
from torchvision.ops import SqueezeExcitation

from explorer.model.blocks import EfficientChannelAttention, Res2NetBottleneck, SplitAttention
from explorer.model.build import ZeroPadShortcut


@dataclass(frozen=True)
class _Window:
    """A conv or pool along one axis: output i reads inputs i*stride - padding + dilation*m, m < kernel."""

    kernel: int
    stride: int
    padding: int
    dilation: int
    ceil_mode: bool

    def out_side(self, side: int) -> int:
        """Output length for an input of ``side`` (PyTorch's formula, ``ceil_mode`` included)."""
        span = side + 2 * self.padding - self.dilation * (self.kernel - 1) - 1
        if not self.ceil_mode:
            return span // self.stride + 1
        out = math.ceil(span / self.stride) + 1
        return out - 1 if (out - 1) * self.stride >= side + self.padding else out

    def sources(self, outputs: np.ndarray, side: int, clip: bool) -> np.ndarray:
        """The input indices the ``outputs`` read; with ``clip``, only those inside ``side``."""
        taps = self.dilation * np.arange(self.kernel)
        inputs = (outputs[:, None] * self.stride - self.padding + taps[None, :]).ravel()
        if clip:
            inputs = inputs[(inputs >= 0) & (inputs < side)]
        return np.unique(inputs)


@dataclass(frozen=True)
class _Branches:
    """Paths from one input to one sum or concatenation (an empty path is the identity): a residual block,
    or Res2Net's channel groups."""

    paths: tuple[tuple[Step, ...], ...]

    def out_side(self, side: int) -> int:
        return out_side(self.paths[0], side)

    def sources(self, outputs: np.ndarray, side: int, clip: bool) -> np.ndarray:
        return np.unique(np.concatenate([sources(path, outputs, side, clip) for path in self.paths]))


Step = _Window | _Branches


def out_side(steps: Sequence[Step], side: int) -> int:
    for step in steps:
        side = step.out_side(side)
    return side


def sources(steps: Sequence[Step], outputs: np.ndarray, side: int, clip: bool) -> np.ndarray:
    """Input indices of ``steps`` (run on an input of ``side``) that reach ``outputs``."""
    sides = []
    for step in steps:
        sides.append(side)
        side = step.out_side(side)
    for step, in_side in zip(reversed(steps), reversed(sides)):
        outputs = step.sources(outputs, in_side, clip)
    return outputs


def _window(module: nn.Module, axis: int) -> _Window:
    """A conv or pool's window along ``axis``."""
    def at_axis(value) -> int:
        return value if isinstance(value, int) else value[axis]

    return _Window(at_axis(module.kernel_size), at_axis(module.stride), at_axis(module.padding),
                   at_axis(getattr(module, "dilation", 1)), getattr(module, "ceil_mode", False))


def _res2_steps(block: Res2NetBottleneck, axis: int) -> tuple[Step, ...]:
    """Res2Net's middle: each channel group's paths, joined by the concatenation.

    In a block that keeps its shape, group i > 0 adds the previous group's output before its
    3x3, so its output reads the 3x3s i, i-1 … 0 in a chain (and the shorter chains); the last
    group passes through. A block that strides (``is_first``) runs each 3x3 on its own group
    and pools the last group (``pool``), side by side.
    """
    convs = [_window(conv, axis) for conv in block.convs]
    if block.is_first:
        paths = [(conv,) for conv in convs] + ([(_window(block.pool, axis),)] if block.pool is not None else [])
    else:
        # Group i's output: conv_i after the sum of group i's input and group i-1's output.
        paths = [tuple(convs[start:i + 1]) for i in range(len(convs)) for start in range(i + 1)]
        if block.scales > 1:
            paths.append(())  # the last group, untouched
    paths.sort(key=len, reverse=True)  # `_Branches.out_side` follows the first path: any has the same side
    return (_Branches(tuple(paths)),)


def module_steps(module: nn.Module, axis: int) -> tuple[Step, ...]:
    """What ``module`` does to indices along ``axis`` (0: rows, 1: columns), in execution order.

    Channel gates (SE, ECA, split attention's weights) pool the whole map into one number per
    channel and scale the map with it: by the layer table's convention they are no part of the
    window (`anatomy`), so they add no step. BN and ReLU are pointwise: no step either.
    """
    if isinstance(module, (SqueezeExcitation, EfficientChannelAttention)):
        return ()
    if isinstance(module, SplitAttention):  # the radix groups' 3x3 is the path; the rest computes the weights
        return module_steps(module.conv, axis)
    if isinstance(module, Res2NetBottleneck):
        main = (*module_steps(module.conv1, axis), *_res2_steps(module, axis), *module_steps(module.conv3, axis))
    elif hasattr(module, "downsample"):  # every other block: registration order is execution order
        main = tuple(step for name, child in module.named_children() if name != "downsample"
                     for step in module_steps(child, axis))
    elif isinstance(module, ZeroPadShortcut):
        return (_Window(1, module.stride, 0, 1, False),)
    elif isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return (_window(module, axis),)
    else:
        return tuple(step for child in module.children() for step in module_steps(child, axis))
    if not getattr(module, "residual", True):  # a plain block: no shortcut branch
        return main
    # A pre-activation block's shortcut reads the input after BN-ReLU: pointwise, the same indices.
    shortcut = () if module.downsample is None else module_steps(module.downsample, axis)
    return (_Branches((main, shortcut)),)


def stem_modules(model: nn.Module) -> tuple[nn.Module, ...]:
    """The stem's modules in execution order: conv1, bn1 and relu (none in a pre-activation net), maxpool."""
    return tuple(m for m in (model.conv1, getattr(model, "bn1", None), getattr(model, "relu", None), model.maxpool)
                 if m is not None)
