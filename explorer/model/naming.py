"""The name of a spec no preset equals, built from the fields that differ from its family's defaults.

``resnet50 deep-stem caffe``, ``cifar_resnet164 bottleneck preact``: the family's prefix and the
depth, then one word for each field that is not what the family and the depth would give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.model.depth import default_block, default_planes, default_stages
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem, StrideStyle

if TYPE_CHECKING:
    from explorer.model.spec import ResNetSpec


def generated_name(spec: ResNetSpec) -> str:
    """A readable, unique-enough name for ``spec`` from its fields."""
    family = spec.family
    parts = [f"{family.prefix}{spec.depth}"]
    if default_stages(spec.depth, spec.block, len(spec.stages), spec.is_cifar) != spec.stages:
        parts.append("[" + ",".join(map(str, spec.stages)) + "]")
    if spec.block is not default_block(spec.depth, spec.is_cifar):
        parts.append(spec.block.value)
    if spec.groups != 1 or spec.width_per_group != 64:
        width = spec.width_per_group * spec.groups
        if spec.groups > 1:
            parts.append(f"{spec.groups}x{spec.width_per_group}d")
        else:
            parts.append(f"{spec.width_per_group}w" if width % 64 else f"wide{width // 64}")
    if spec.stem in (Stem.DEEP, Stem.TIERED):
        parts.append(f"{spec.stem.value}-stem")
    if spec.avg_down:
        parts.append("avg-down")
    if spec.stride_style is StrideStyle.CAFFE and spec.block is Block.BOTTLENECK:
        parts.append("caffe")
    if spec.preact:
        parts.append("preact")
    if spec.middle_conv is MiddleConv.SPLIT:
        parts.append(f"split-attention-r{spec.radix}" + ("-pool-first" if spec.avd_first else ""))
    elif spec.middle_conv is MiddleConv.RES2:
        parts.append(f"res2-{spec.scales}s")
    if spec.attention is Attention.SE:
        parts.append("se" if spec.attention_reduction == 16 else f"se-r{spec.attention_reduction}")
    elif spec.attention is Attention.ECA:
        parts.append("eca")
    if spec.shortcut is Shortcut.NONE:
        parts.append("plain")
    elif spec.shortcut is not family.shortcut:
        parts.append(f"shortcut-{spec.shortcut.value}")
    if any(spec.dilate):
        parts.append(f"os{spec.output_stride}")
    if spec.zero_init_residual:
        parts.append("zero-init")
    if spec.num_classes != family.num_classes:
        parts.append(f"{spec.num_classes}cls")
    if spec.in_channels != 3:
        parts.append(f"in{spec.in_channels}")
    # A CIFAR net's planes double from its own stem width (16, 32, 64 from 16).
    base_planes = spec.stem_width if spec.is_cifar else family.base_planes
    if spec.stage_planes != default_planes(len(spec.stages), base_planes):
        parts.append("planes" + "-".join(map(str, spec.stage_planes)))
    if spec.stem_width != family.stem_width:
        parts.append(f"stem{spec.stem_width}")
    return " ".join(parts)
