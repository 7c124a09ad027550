"""The named ResNets: the preset table, and the two families it is made from.

`resnet_for_depth` makes ImageNet ResNets (He et al. 2016, Table 1) and `cifar_resnet` the
CIFAR ones (section 4.2); presets are rows, with the parameter count in a comment.
"""

from __future__ import annotations

from typing import Any

from explorer.model.spec import Block, ResNetSpec, Shortcut, Stem, StrideStyle, default_block, spec_for_depth


def resnet_for_depth(depth: int, block: Block | str | None = None, **fields: Any) -> ResNetSpec:
    """An ImageNet ResNet of any depth (basic blocks below 50 layers unless told)."""
    block = default_block(depth) if block is None else block
    return spec_for_depth(ResNetSpec(block=block, **fields), depth)


def cifar_resnet(depth: int, block: Block | str = Block.BASIC, **fields: Any) -> ResNetSpec:
    """The CIFAR ResNets of section 4.2: 3 stages of 16/32/64 planes, depth 6n+2 (basic).

    The paper's CIFAR nets use shortcut option A (parameter-free), so that is the default.
    """
    fields.setdefault("num_classes", 10)
    fields.setdefault("shortcut", Shortcut.A)
    # One block a stage until `spec_for_depth` gives the depth's counts (same stage count, so
    # the 16/32/64 planes stay).
    base = ResNetSpec(
        stages=(1, 1, 1), block=block, stage_planes=(16, 32, 64), stem=Stem.CIFAR, stem_width=16, **fields,
    )
    return spec_for_depth(base, depth)


# Parameter counts (1000 classes) from torchvision's weights meta, for the reader.
PRESETS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec(stages=(2, 2, 2, 2), block=Block.BASIC),  # 11,689,512
    "resnet34": ResNetSpec(stages=(3, 4, 6, 3), block=Block.BASIC),  # 21,797,672
    "resnet50": ResNetSpec(stages=(3, 4, 6, 3)),  # 25,557,032
    "resnet101": ResNetSpec(stages=(3, 4, 23, 3)),  # 44,549,160
    "resnet152": ResNetSpec(stages=(3, 8, 36, 3)),  # 60,192,808
    "resnext50_32x4d": ResNetSpec(stages=(3, 4, 6, 3), groups=32, width_per_group=4),  # 25,028,904
    "resnext101_32x8d": ResNetSpec(stages=(3, 4, 23, 3), groups=32, width_per_group=8),  # 88,791,336
    "resnext101_64x4d": ResNetSpec(stages=(3, 4, 23, 3), groups=64, width_per_group=4),  # 83,455,272
    "wide_resnet50_2": ResNetSpec(stages=(3, 4, 6, 3), width_per_group=128),  # 68,883,240
    "wide_resnet101_2": ResNetSpec(stages=(3, 4, 23, 3), width_per_group=128),  # 126,886,696
    "resnet50_caffe": ResNetSpec(stride_style=StrideStyle.CAFFE),  # the paper's v1
    "resnet50c": ResNetSpec(stem=Stem.DEEP),  # mmcls ResNetV1c
    "resnet50d": ResNetSpec(stem=Stem.DEEP, avg_down=True),  # mmcls ResNetV1d
    "resnet200": resnet_for_depth(200),
    "cifar_resnet20": cifar_resnet(20),  # 0.27M in the paper
    "cifar_resnet32": cifar_resnet(32),  # 0.46M
    "cifar_resnet44": cifar_resnet(44),  # 0.66M
    "cifar_resnet56": cifar_resnet(56),  # 0.85M
    "cifar_resnet110": cifar_resnet(110),  # 1.7M
    "cifar_resnet1202": cifar_resnet(1202),  # 19.4M
}
# The ImageNet models torchvision ships (with weights enums) under these same names. Written
# out, not asked of torchvision.models.list_models (a test compares them), so that the model
# picker, and with it the first page, loads no torch.
TORCHVISION_PRESETS: tuple[str, ...] = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
)
_PRESET_BY_SPEC: dict[ResNetSpec, str] = {spec: name for name, spec in PRESETS.items()}


def get_preset(name: str) -> ResNetSpec:
    """A preset by name, with the list of names in the error."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown preset {name!r}. Presets: {', '.join(PRESETS)}.") from None


def preset_name(spec: ResNetSpec) -> str | None:
    """The name of the preset ``spec`` equals, if any (what `ResNetSpec.preset` answers)."""
    return _PRESET_BY_SPEC.get(spec)
