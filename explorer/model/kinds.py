"""The words a `ResNetSpec` is made of: block, stem, stride placement, shortcut and attention kinds.

Each is a str-enum, so the UI, the command line and links hand in plain text that
`enum_value` turns into a member at the edge, with a message naming the choices.
"""

from __future__ import annotations

import enum
from typing import Any

from explorer.runtime.i18n import _


class Block(str, enum.Enum):
    """Residual block type (He et al. 2016, Fig. 5)."""

    BASIC = "basic"  # two 3x3 convs, expansion 1 (ResNet-18/34, CIFAR nets)
    BOTTLENECK = "bottleneck"  # 1x1 reduce, 3x3, 1x1 expand x4 (ResNet-50/101/152)

    @property
    def expansion(self) -> int:
        """Output channels of a block divided by its ``planes``."""
        return 1 if self is Block.BASIC else 4

    @property
    def convs_per_block(self) -> int:
        """Weighted layers on the residual branch; what the depth counts."""
        return 2 if self is Block.BASIC else 3


class Stem(str, enum.Enum):
    """How the network turns the image into the first feature map."""

    IMAGENET = "imagenet"  # 7x7/2 conv + 3x3/2 max pool: total stride 4
    DEEP = "deep"  # three 3x3 convs (first stride 2) + 3x3/2 max pool (mmcls V1c, timm "c")
    TIERED = "tiered"  # the same with widths 3/8, 1/2 and all of stem_width: 24, 32, 64 (timm's "t" nets)
    CIFAR = "cifar"  # one 3x3/1 conv, no pool (He et al. 2016, section 4.2)


class StrideStyle(str, enum.Enum):
    """Where a bottleneck block that halves the resolution puts its stride."""

    PYTORCH = "pytorch"  # on the 3x3 conv (torchvision, "ResNet v1.5")
    CAFFE = "caffe"  # on the first 1x1 conv (the paper's original, "v1")


class Attention(str, enum.Enum):
    """A channel gate on each block's residual branch, applied before the add."""

    NONE = "none"
    SE = "se"  # squeeze-and-excitation: pool, 1x1 squeeze, ReLU, 1x1 excite, sigmoid (Hu et al. 2018)
    ECA = "eca"  # efficient channel attention: pool, 1-D conv across channels, sigmoid (Wang et al. 2020)


class MiddleConv(str, enum.Enum):
    """What sits between a bottleneck's two 1x1 convs."""

    CONV = "conv"  # one 3x3 conv, grouped for ResNeXt (torchvision's Bottleneck)
    SPLIT = "split"  # split attention over radix groups of 3x3 convs (ResNeSt, Zhang et al. 2022)
    RES2 = "res2"  # a hierarchy of 3x3 convs over channel scales (Res2Net, Gao et al. 2021)


class Shortcut(str, enum.Enum):
    """The paper's shortcut options (He et al. 2016, section 3.3)."""

    A = "A"  # identity; zero-padded channels and strided subsampling where shapes change
    B = "B"  # identity, projection (1x1 conv + BN) only where shapes change (torchvision)
    C = "C"  # projection on every block
    NONE = "none"  # no shortcut at all: the paper's "plain" baseline network


def enum_value(enum_cls: type[enum.Enum], value: Any) -> Any:
    """Turn a UI/CLI/URL string into an enum member, with a message naming the choices."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise ValueError(_("{value!r} is not one of {choices}.").format(value=value, choices=choices)) from None
