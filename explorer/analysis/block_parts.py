"""What a block is made of, read from the layer table: its residual branch, its shortcut and its channel gate.

The figures draw a gate (SE, ECA, or the weights of ResNeSt's split attention) as a side
branch of the block, and pre-activation blocks with BN-ReLU before each conv; both need to
know which rows are which. Everything here is a pure function of a `LayerTable`: the gate
rows are named as `blocks.gate_module_names` names them (``<block>.se.*``, and the
`SplitAttention.GATE` children of a ResNeSt ``conv2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer.analysis.anatomy import BlockRow, LayerRow, LayerTable
from explorer.analysis.gates import GateKind, gate_kind
from explorer.model.kinds import MiddleConv


@dataclass(frozen=True)
class Gate:
    """A block's channel gate: the rows of its side branch, in execution order."""

    kind: GateKind
    rows: tuple[LayerRow, ...]

    @property
    def pooled(self) -> int:
        """Channels the gate pools (the residual branch's, or the sum of the radix groups')."""
        return self.rows[0].out_shape[0]

    @property
    def weights(self) -> int:
        """Numbers the gate outputs for one image: one per channel (radix per channel for split attention)."""
        return self.rows[-1].out_shape[0]

    @property
    def squeezed(self) -> int | None:
        """The hidden width of SE's or split attention's two 1x1 convs; None for ECA."""
        first = next(r for r in self.rows if r.type in ("Conv2d", "Conv1d"))
        return None if self.kind is GateKind.ECA else first.out_shape[0]

    @property
    def kernel(self) -> int | None:
        """ECA's 1-D kernel across channels; None for the others."""
        conv = next(r for r in self.rows if r.type == "Conv1d") if self.kind is GateKind.ECA else None
        return None if conv is None else conv.kernel[0]

    @property
    def short(self) -> str:
        """"SE, r=16", "ECA, k=5" or "split attention, 64→32→128": the gate and its size, as drawn."""
        if self.kind is GateKind.ECA:
            return f"ECA, k={self.kernel}"
        if self.kind is GateKind.SE:
            return f"SE, r={self.pooled / self.squeezed:g}"
        return f"split attention, {self.pooled}→{self.squeezed}→{self.weights}"


@dataclass(frozen=True)
class BlockParts:
    """One block's rows by part: residual branch, shortcut, gate; and how its 3x3 is built."""

    block: BlockRow
    branch: tuple[LayerRow, ...]  # the residual branch without the gate (and the block's ReLUs)
    shortcut: tuple[LayerRow, ...]  # the projection's rows; empty for an identity
    gate: Gate | None
    preact: bool  # BN-ReLU before each conv, nothing after the add
    radix: int  # ResNeSt's groups of 3x3 convs (1: none)
    scales: int  # Res2Net's channel scales (1: none)


def block_parts(table: LayerTable) -> dict[str, BlockParts]:
    """Every residual block of ``table`` (not the stem and head) by name ("layer2.0"), split into its parts."""
    rows_by_block: dict[str, list[LayerRow]] = {}
    for row in table.rows:
        rows_by_block.setdefault(row.block_name, []).append(row)
    spec = table.spec
    parts = {}
    for block in table.blocks:
        if block.block is None:
            continue
        rows = rows_by_block[block.name]
        gated = [(r, gate_kind(table, r)) for r in rows]
        gate_rows = tuple(r for r, kind in gated if kind is not None)
        gate = Gate(next(kind for _r, kind in gated if kind is not None), gate_rows) if gate_rows else None
        parts[block.name] = BlockParts(
            block, tuple(r for r, kind in gated if kind is None and not r.downsample),
            tuple(r for r in rows if r.downsample), gate, spec.preact,
            spec.radix if spec.middle_conv is MiddleConv.SPLIT else 1,
            spec.scales if spec.middle_conv is MiddleConv.RES2 else 1)
    return parts


def gate_rows_text(rows: Sequence[LayerRow]) -> list[str]:
    """One hover line per gate row: "layer1.0.se.fc1 (Conv2d) → 16×1×1"."""
    return [f"{r.name} ({r.type}) → {'×'.join(map(str, r.out_shape))}" for r in rows]
