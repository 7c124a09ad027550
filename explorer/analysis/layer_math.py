"""What one leaf layer does to a map, for the layer table: its multiply-accumulates and its receptive field.

Counting convention: conv (2-D, and ECA's 1-D across channels) and linear
multiply-accumulates only; receptive fields follow Araujo et al. 2019
(https://distill.pub/2019/computing-receptive-fields/).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from explorer.model.build import ZeroPadShortcut


def pair(value: object) -> tuple[int, int] | None:
    """A kernel, stride, padding or dilation as (height, width); None stays None."""
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, str):  # padding="same" never occurs in ResNets; keep the table honest
        raise TypeError(f"unsupported padding {value!r}")
    if len(value) == 1:  # a Conv1d's (k,): ECA's conv across channels
        return (int(value[0]), 1)
    first, second = value  # type: ignore[misc]
    return (int(first), int(second))


def macs_of(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates of one image through a conv or linear layer."""
    per_image = out.numel() // out.shape[0]
    if isinstance(module, (nn.Conv2d, nn.Conv1d)):
        return per_image * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    return 0


def receptive_field_after(module: nn.Module, rf: tuple[int, int], in_side: int) -> tuple[int, int]:
    """(size, jump) after ``module`` given (size, jump) before it, along the height axis."""
    size, jump = rf
    if isinstance(module, nn.AdaptiveAvgPool2d):  # a window over the whole map
        return size + (in_side - 1) * jump, jump * in_side
    if isinstance(module, ZeroPadShortcut):
        return size, jump * module.stride
    if isinstance(module, nn.Conv1d):  # ECA's conv runs across channels, not across the picture
        return size, jump
    kernel, stride = getattr(module, "kernel_size", None), getattr(module, "stride", None)
    if kernel is None or stride is None:
        return size, jump
    k, s = pair(kernel)[0], pair(stride)[0]
    d = pair(getattr(module, "dilation", 1))[0]
    return size + (d * (k - 1)) * jump, jump * s
