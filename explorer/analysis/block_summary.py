"""A residual block in a few characters: its shortcut's kind and its residual branch's convs.

The layer table's block rows (`anatomy.BlockRow`) show what a block computes from its leaf
rows alone: ``1x1,64 → 3x3,64 → 1x1,256`` for torchvision's bottleneck (kernel, output
channels, ``g`` groups), and, for the blocks beyond v1, what replaces the 3x3 and what gates
the branch:

* ``SplitAttn(3x3,128,g2)`` — ResNeSt's split attention: radix groups of 3x3 convs
  (``radix × width`` outputs) weighed per channel, then ``avg3x3/2`` where the block strides;
* ``Res2[4×26: 3 × 3x3 ⇢]`` — Res2Net's channel groups (``scales × width``): each 3x3
  adds the previous group's output (``⇢``, a chain); ``∥`` where they run side by side
  (a block that strides or projects), the last group through ``avg``;
* `` + SE`` / `` + ECA`` — a channel gate on the branch, before the add.

The notation is the same in every language (the Architecture page's caption says it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from explorer.analysis.shortcuts import ShortcutKind

if TYPE_CHECKING:  # anatomy imports this module
    from explorer.analysis.anatomy import LayerRow

CHAIN, SIDE_BY_SIDE = "⇢", "∥"


def shortcut_kind(rows: Sequence[LayerRow], plain: bool) -> ShortcutKind:
    """A block's shortcut, from the layers of its shortcut branch (none: the identity)."""
    if plain:
        return ShortcutKind.NONE
    types = {r.type for r in rows if r.downsample}
    if not types:
        return ShortcutKind.IDENTITY
    if "ZeroPadShortcut" in types:
        return ShortcutKind.ZERO_PAD
    return ShortcutKind.AVG_PROJECTION if "AvgPool2d" in types else ShortcutKind.PROJECTION


def _groups(row: LayerRow) -> str:
    """ ",g32" for a grouped conv, "" for a plain one."""
    return f",g{row.groups}" if row.groups and row.groups > 1 else ""


def conv_text(row: LayerRow) -> str:
    """A conv row in a few characters: kernel, output channels, groups ("3x3,128,g32")."""
    return f"{row.kernel[0]}x{row.kernel[1]},{row.out_shape[0]}{_groups(row)}"


def _res2(convs: Sequence[LayerRow], pooled: bool) -> str:
    """Res2Net's middle: ``scales × width`` channel groups and how their 3x3s are joined."""
    first = convs[0]
    scales = len(convs) + 1 if len(convs) > 1 or pooled else 1
    kernel = f"{first.kernel[0]}x{first.kernel[1]}{_groups(first)}"
    if pooled:
        return f"Res2[{scales}×{first.out_shape[0]}: {len(convs)} × {kernel} {SIDE_BY_SIDE} avg]"
    return f"Res2[{scales}×{first.out_shape[0]}: {len(convs)} × {kernel} {CHAIN}]"


def branch_summary(rows: Sequence[LayerRow]) -> str:
    """The residual branch of one block's leaf ``rows`` (or the stem's convs), e.g. "1x1,64 → 3x3,64 → 1x1,256 + SE"."""
    parts: list[str] = []
    res2: list[LayerRow] = []
    res2_pooled = False
    gate_types: set[str] = set()  # the layer types of an SE / ECA gate ``se``
    prefix = f"{rows[0].block_name}." if rows else ""
    for row in rows:
        local = row.name[len(prefix):] if row.name.startswith(prefix) else row.name
        if row.downsample:
            continue
        if row.gate:
            if local.startswith("se."):
                gate_types.add(row.type)
            continue
        if local.startswith("convs."):
            res2.append(row)
        elif local == "pool" and res2:
            res2_pooled = True
        elif local == "conv2.conv":  # ResNeSt's radix groups
            parts.append(f"SplitAttn({conv_text(row)})")
        elif local in ("avd_first", "avd_last"):
            parts.append(f"avg{row.kernel[0]}x{row.kernel[1]}/{row.stride[0]}")
        elif row.type == "Conv2d":
            if res2:
                parts.append(_res2(res2, res2_pooled))
                res2 = []
            parts.append(conv_text(row))
    gate = (" + ECA" if "Conv1d" in gate_types else " + SE") if gate_types else ""
    return " → ".join(parts) + gate
