"""The named ResNets as rows of field values (timm's style: a variant is a row).

Plain data that makes no spec, so `explorer.model.spec` can read it to name the specs
that equal a preset, and `explorer.model.presets` can turn it into specs. A test checks
that the depth-built rows equal `resnet_for_depth` and `cifar_resnet`.
"""

from __future__ import annotations

from typing import Any

from explorer.model.depth import default_planes
from explorer.model.families import CIFAR
from explorer.model.kinds import Block, Stem, StrideStyle

# What every CIFAR net of section 4.2 shares: 16/32/64 planes after a 16-wide 3x3 stem,
# option-A shortcuts, 10 classes.
_CIFAR_ROW: dict[str, Any] = dict(
    block=Block.BASIC, stage_planes=default_planes(CIFAR.num_stages, CIFAR.base_planes), stem=Stem.CIFAR,
    stem_width=CIFAR.stem_width, shortcut=CIFAR.shortcut, num_classes=CIFAR.num_classes,
)

# Parameter counts (1000 classes) from torchvision's weights meta, for the reader; fields
# left out keep `ResNetSpec`'s defaults (torchvision's resnet50).
PRESET_ROWS: dict[str, dict[str, Any]] = {
    "resnet18": dict(stages=(2, 2, 2, 2), block=Block.BASIC),  # 11,689,512
    "resnet34": dict(stages=(3, 4, 6, 3), block=Block.BASIC),  # 21,797,672
    "resnet50": dict(stages=(3, 4, 6, 3)),  # 25,557,032
    "resnet101": dict(stages=(3, 4, 23, 3)),  # 44,549,160
    "resnet152": dict(stages=(3, 8, 36, 3)),  # 60,192,808
    "resnext50_32x4d": dict(stages=(3, 4, 6, 3), groups=32, width_per_group=4),  # 25,028,904
    "resnext101_32x8d": dict(stages=(3, 4, 23, 3), groups=32, width_per_group=8),  # 88,791,336
    "resnext101_64x4d": dict(stages=(3, 4, 23, 3), groups=64, width_per_group=4),  # 83,455,272
    "wide_resnet50_2": dict(stages=(3, 4, 6, 3), width_per_group=128),  # 68,883,240
    "wide_resnet101_2": dict(stages=(3, 4, 23, 3), width_per_group=128),  # 126,886,696
    "resnet50_caffe": dict(stride_style=StrideStyle.CAFFE),  # the paper's v1
    "resnet50c": dict(stem=Stem.DEEP),  # mmcls ResNetV1c
    "resnet50d": dict(stem=Stem.DEEP, avg_down=True),  # mmcls ResNetV1d
    "resnet200": dict(stages=(3, 24, 36, 3)),  # He et al. 2016b
    "cifar_resnet20": dict(stages=(3, 3, 3), **_CIFAR_ROW),  # 0.27M in the paper
    "cifar_resnet32": dict(stages=(5, 5, 5), **_CIFAR_ROW),  # 0.46M
    "cifar_resnet44": dict(stages=(7, 7, 7), **_CIFAR_ROW),  # 0.66M
    "cifar_resnet56": dict(stages=(9, 9, 9), **_CIFAR_ROW),  # 0.85M
    "cifar_resnet110": dict(stages=(18, 18, 18), **_CIFAR_ROW),  # 1.7M
    "cifar_resnet1202": dict(stages=(200, 200, 200), **_CIFAR_ROW),  # 19.4M
}
