"""timm's ResNetV2 tensor names, renamed to the explorer's (torchvision's) at the checkpoint boundary.

timm's ``resnet``, ``resnest`` and ``res2net`` models already use torchvision's names, and
the blocks of `explorer.model.blocks` keep theirs. Only timm's ``ResNetV2`` (the
pre-activation nets) names its tensors its own way: ``stem.conv``,
``stages.0.blocks.0.norm1``, ``norm``, and a 1x1 conv as the classifier ``head.fc``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

# timm's deep ResNetV2 stem (``stem.conv1`` … ``stem.conv3``) at the places of our Sequential ``conv1``.
_STEM = {"stem.conv": "conv1", "stem.conv1": "conv1.0", "stem.norm1": "conv1.1", "stem.conv2": "conv1.3",
         "stem.norm2": "conv1.4", "stem.conv3": "conv1.6"}
_BLOCK = re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.(.+)")
_NORM = re.compile(r"norm(\d)\.")


def is_timm_resnetv2(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` is keyed as timm's ResNetV2 (``stages.N.blocks.M…``)."""
    return any(key.startswith("stages.0.blocks.") for key in state)


def from_timm_resnetv2(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with timm's ResNetV2 names renamed to ours; the classifier's 1x1 conv made a Linear's weight."""
    renamed = {}
    for key, tensor in state.items():
        module, _, leaf = key.rpartition(".")
        block = _BLOCK.fullmatch(key)
        if block:
            stage, index, rest = block.groups()
            key = f"layer{int(stage) + 1}.{index}." + _NORM.sub(r"bn\1.", rest)
        elif module in _STEM:
            key = f"{_STEM[module]}.{leaf}"
        elif module == "norm":
            key = f"final_bn.{leaf}"
        elif module == "head.fc":
            key = f"fc.{leaf}"
            if tensor.dim() == 4:  # (classes, C, 1, 1): timm's head is a 1x1 conv
                tensor = tensor.flatten(1)
        renamed[key] = tensor
    return renamed
