"""The named ResNets as rows of field values (timm's style: a variant is a row).

Plain data that makes no spec, so `explorer.model.spec` can read it to name the specs
that equal a preset, and `explorer.model.presets` can turn it into specs. A test checks
that the depth-built rows equal `resnet_for_depth` and `cifar_resnet`.
"""

from __future__ import annotations

from typing import Any

from explorer.model.depth import default_planes
from explorer.model.families import CIFAR
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem, StrideStyle

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
    # Beyond v1, named and counted as timm names and counts them (`timm.create_model(name)`).
    "resnetv2_18": dict(stages=(2, 2, 2, 2), block=Block.BASIC, preact=True),  # 11,687,720
    "resnetv2_34": dict(stages=(3, 4, 6, 3), block=Block.BASIC, preact=True),  # 21,795,880
    "resnetv2_50": dict(preact=True),  # 25,549,352
    "resnetv2_101": dict(stages=(3, 4, 23, 3), preact=True),  # 44,541,480
    "resnetv2_18d": dict(stages=(2, 2, 2, 2), block=Block.BASIC, stem=Stem.DEEP, avg_down=True, preact=True),
    "resnetv2_34d": dict(stages=(3, 4, 6, 3), block=Block.BASIC, stem=Stem.DEEP, avg_down=True, preact=True),
    "resnetv2_50d": dict(stem=Stem.DEEP, avg_down=True, preact=True),  # 25,568,584
    "seresnet18": dict(stages=(2, 2, 2, 2), block=Block.BASIC, attention=Attention.SE),  # 11,779,624
    "seresnet34": dict(stages=(3, 4, 6, 3), block=Block.BASIC, attention=Attention.SE),  # 21,960,416
    "seresnet50": dict(attention=Attention.SE),  # 28,088,024
    "seresnet101": dict(stages=(3, 4, 23, 3), attention=Attention.SE),  # 49,326,872
    "seresnet152": dict(stages=(3, 8, 36, 3), attention=Attention.SE),  # 66,821,848
    "seresnext50_32x4d": dict(groups=32, width_per_group=4, attention=Attention.SE),  # 27,559,896
    "seresnext26d_32x4d": dict(stages=(2, 2, 2, 2), groups=32, width_per_group=4, stem=Stem.DEEP, avg_down=True,
                               attention=Attention.SE),
    "seresnext101_32x8d": dict(stages=(3, 4, 23, 3), groups=32, width_per_group=8, attention=Attention.SE),
    "ecaresnet50d": dict(stem=Stem.DEEP, avg_down=True, attention=Attention.ECA),  # 25,576,350
    "ecaresnet101d": dict(stages=(3, 4, 23, 3), stem=Stem.DEEP, avg_down=True, attention=Attention.ECA),
    # timm's "t" nets: the D tweaks with a tiered stem (24, 32, 64 channels).
    "resnet10t": dict(stages=(1, 1, 1, 1), block=Block.BASIC, stem=Stem.TIERED, avg_down=True),
    "resnet14t": dict(stages=(1, 1, 1, 1), stem=Stem.TIERED, avg_down=True),
    "resnet26t": dict(stages=(2, 2, 2, 2), stem=Stem.TIERED, avg_down=True),
    "resnet50t": dict(stem=Stem.TIERED, avg_down=True),
    "ecaresnet26t": dict(stages=(2, 2, 2, 2), stem=Stem.TIERED, avg_down=True, attention=Attention.ECA),
    "ecaresnet50t": dict(stem=Stem.TIERED, avg_down=True, attention=Attention.ECA),
    "seresnext26t_32x4d": dict(stages=(2, 2, 2, 2), groups=32, width_per_group=4, stem=Stem.TIERED, avg_down=True,
                               attention=Attention.SE),
    "resnest14d": dict(stages=(1, 1, 1, 1), stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.SPLIT),
    "resnest26d": dict(stages=(2, 2, 2, 2), stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.SPLIT),
    "resnest50d": dict(stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.SPLIT),  # 27,483,240
    "resnest101e": dict(stages=(3, 4, 23, 3), stem=Stem.DEEP, stem_width=128, avg_down=True,
                        middle_conv=MiddleConv.SPLIT),
    "resnest50d_4s2x40d": dict(stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.SPLIT, radix=4, groups=2,
                               width_per_group=40, avd_first=True),  # 30,417,592
    "resnest50d_1s4x24d": dict(stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.SPLIT, radix=1, groups=4,
                               width_per_group=24, avd_first=True),  # 25,677,000
    "res2net50_26w_4s": dict(middle_conv=MiddleConv.RES2, width_per_group=26),  # 25,699,120
    "res2net50_26w_6s": dict(middle_conv=MiddleConv.RES2, width_per_group=26, scales=6),
    "res2net50_26w_8s": dict(middle_conv=MiddleConv.RES2, width_per_group=26, scales=8),
    "res2net50_14w_8s": dict(middle_conv=MiddleConv.RES2, width_per_group=14, scales=8),
    "res2net101_26w_4s": dict(stages=(3, 4, 23, 3), middle_conv=MiddleConv.RES2, width_per_group=26),
    "res2next50": dict(middle_conv=MiddleConv.RES2, groups=8, width_per_group=4),
    "res2net50d": dict(stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.RES2, width_per_group=26),
    "res2net101d": dict(stages=(3, 4, 23, 3), stem=Stem.DEEP, avg_down=True, middle_conv=MiddleConv.RES2,
                        width_per_group=26),
    # He et al. 2016b ("Identity Mappings"), section 4.2: pre-activation bottlenecks on CIFAR,
    # projection shortcuts where the shape changes (1.7M and 10.2M in the paper).
    "cifar_preact_resnet164": dict(stages=(18, 18, 18), **{**_CIFAR_ROW, "block": Block.BOTTLENECK,
                                                           "shortcut": Shortcut.B}, preact=True),
    "cifar_preact_resnet1001": dict(stages=(111, 111, 111), **{**_CIFAR_ROW, "block": Block.BOTTLENECK,
                                                               "shortcut": Shortcut.B}, preact=True),
}
