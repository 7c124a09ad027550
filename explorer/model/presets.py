"""The named ResNets: the preset table, and the two families it is made from.

`resnet_for_depth` makes ImageNet ResNets (He et al. 2016, Table 1) and `cifar_resnet` the
CIFAR ones (section 4.2); the presets are the rows of `explorer.model.preset_rows` made specs.
"""

from __future__ import annotations

from typing import Any

from explorer.model.depth import default_block, default_planes
from explorer.model.families import CIFAR
from explorer.model.kinds import Block, Stem
from explorer.model.preset_rows import PRESET_ROWS
from explorer.model.spec import ResNetSpec, spec_for_depth


def resnet_for_depth(depth: int, block: Block | str | None = None, **fields: Any) -> ResNetSpec:
    """An ImageNet ResNet of any depth (basic blocks below 50 layers unless told)."""
    block = default_block(depth) if block is None else block
    return spec_for_depth(ResNetSpec(block=block, **fields), depth)


def cifar_resnet(depth: int, block: Block | str = Block.BASIC, **fields: Any) -> ResNetSpec:
    """The CIFAR ResNets of section 4.2: 3 stages of 16/32/64 planes, depth 6n+2 (basic).

    The paper's CIFAR nets use shortcut option A (parameter-free), so that is the default.
    """
    fields.setdefault("num_classes", CIFAR.num_classes)
    fields.setdefault("shortcut", CIFAR.shortcut)
    # One block a stage until `spec_for_depth` gives the depth's counts (same stage count, so
    # the 16/32/64 planes stay).
    base = ResNetSpec(
        stages=(1,) * CIFAR.num_stages, block=block, stage_planes=default_planes(CIFAR.num_stages, CIFAR.base_planes),
        stem=Stem.CIFAR, stem_width=CIFAR.stem_width, **fields,
    )
    return spec_for_depth(base, depth)


# Every named ResNet (`explorer.model.preset_rows` lists them, with parameter counts).
PRESETS: dict[str, ResNetSpec] = {name: ResNetSpec(**row) for name, row in PRESET_ROWS.items()}
# The ImageNet models torchvision ships (with weights enums) under these same names. Written
# out, not asked of torchvision.models.list_models (a test compares them), so that the model
# picker, and with it the first page, loads no torch.
TORCHVISION_PRESETS: tuple[str, ...] = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
)


# The presets beyond torchvision's that timm builds under the same name, with trained weights
# it publishes (tests/test_timm_family.py checks each against ``timm.create_model(name)``).
TIMM_PRESETS: tuple[str, ...] = (
    "resnet50c", "resnet50d", "resnet200",
    "resnetv2_18", "resnetv2_34", "resnetv2_50", "resnetv2_101", "resnetv2_18d", "resnetv2_34d", "resnetv2_50d",
    "seresnet18", "seresnet34", "seresnet50", "seresnet101", "seresnet152",
    "seresnext26d_32x4d", "seresnext50_32x4d", "seresnext101_32x8d", "ecaresnet50d", "ecaresnet101d",
    "resnet10t", "resnet14t", "resnet26t", "resnet50t", "ecaresnet26t", "ecaresnet50t", "seresnext26t_32x4d",
    "resnest14d", "resnest26d", "resnest50d", "resnest101e", "resnest50d_4s2x40d", "resnest50d_1s4x24d",
    "res2net50_26w_4s", "res2net50_26w_6s", "res2net50_26w_8s", "res2net50_14w_8s", "res2net101_26w_4s",
    "res2next50", "res2net50d", "res2net101d",
)


def get_preset(name: str) -> ResNetSpec:
    """A preset by name, with the list of names in the error."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown preset {name!r}. Presets: {', '.join(PRESETS)}.") from None
