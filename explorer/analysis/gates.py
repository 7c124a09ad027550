"""What a model's channel gates cost, from its layer table: counted MACs and the elementwise work beside them.

A channel gate (SE, Hu et al. 2018, https://arxiv.org/abs/1709.01507; ECA, Wang et al. 2020,
https://arxiv.org/abs/1910.03151; ResNeSt's split attention, Zhang et al. 2022,
https://arxiv.org/abs/2004.08955) pools its map to one number per channel, squeezes and
expands those numbers with small convs, squashes them (sigmoid or a softmax over the radix
groups) and multiplies the map by them. Its convs' multiply-accumulates are MACs like any
other conv's and are in the totals. The pooling (one add per element pooled, C·H·W), the
multiply (C·H·W), the squashing and, for split attention, the adds that join the radix
groups are elementwise work, which the MACs convention does not count: like BN, ReLU and the
residual add. Every figure is for one image.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from explorer.analysis.anatomy import LayerRow, LayerTable
from explorer.analysis.table_format import human_bytes, human_count
from explorer.model.blocks import SplitAttention
from explorer.model.kinds import Attention, MiddleConv
from explorer.runtime.i18n import N_, _


class GateKind(str, enum.Enum):
    """Which gate a block computes on a side branch; the value is its name in every language (the papers' own)."""

    SE = "SE"  # squeeze-and-excitation: pool, 1x1 conv down, ReLU, 1x1 conv up, sigmoid
    ECA = "ECA"  # pool, one 1-D conv across the channels, sigmoid
    SPLIT = "split attention"  # pool the radix groups' sum, 1x1 down, BN-ReLU, 1x1 up, softmax over the radix


@dataclass(frozen=True)
class StageGates:
    """One stage's gates."""

    stage: str
    gates: int
    params: int
    macs: int


@dataclass(frozen=True)
class GateCost:
    """Everything the gates of one kind cost in one model, for one image."""

    kind: GateKind
    gates: int  # gated blocks
    params: int  # the gate rows' parameters (counted in the totals)
    macs: int  # the gate rows' conv MACs (counted in the totals)
    pooled: int  # elements the global pools add up: C·H·W per gate
    multiplies: int  # the map times its gate: C·H·W per gate (radix·C·H·W for split attention)
    joining_adds: int  # split attention: adding the radix groups before the pool and after weighing them
    squashed: int  # values through the sigmoid / radix softmax: C per gate (radix·C)
    activation_bytes: int  # the gate rows' outputs, float32
    stages: tuple[StageGates, ...]

    @property
    def uncounted(self) -> int:
        """Elementwise operations of the gates that MACs leave out: pooling adds, multiplies, joining adds."""
        return self.pooled + self.multiplies + self.joining_adds

    @property
    def top_stage(self) -> StageGates:
        """The stage holding most of the gates' parameters."""
        return max(self.stages, key=lambda s: s.params)


def _gate_of(row: LayerRow) -> str:
    """The module a gate row belongs to: "layer1.0.se", "layer1.0.conv2"."""
    return row.name.rsplit(".", 1)[0]


def gate_kind(table: LayerTable, row: LayerRow) -> GateKind | None:
    """The gate ``row`` computes part of, or None for a row of the block's feature-map path."""
    spec = table.spec
    if row.block is None:
        return None
    parent, _dot, child = row.name.rpartition(".")
    if spec.attention is not Attention.NONE and parent == f"{row.block_name}.se":
        return GateKind.SE if spec.attention is Attention.SE else GateKind.ECA
    if spec.middle_conv is MiddleConv.SPLIT and parent == f"{row.block_name}.conv2" and child in SplitAttention.GATE:
        return GateKind.SPLIT
    return None


def gate_costs(table: LayerTable) -> tuple[GateCost, ...]:
    """The cost of ``table``'s gates, one `GateCost` per kind; empty for a model without gates."""
    gates: dict[str, list[LayerRow]] = {}
    for row in table.rows:
        if row.gate:
            gates.setdefault(_gate_of(row), []).append(row)
    by_kind: dict[GateKind, list[list[LayerRow]]] = {}
    for members in gates.values():
        by_kind.setdefault(gate_kind(table, members[0]), []).append(members)
    return tuple(_cost(kind, groups, table.spec.radix) for kind, groups in by_kind.items())


def _cost(kind: GateKind, groups: list[list[LayerRow]], radix: int) -> GateCost:
    pooled = multiplies = joining = squashed = 0
    stages: dict[str, list[int]] = {}
    for members in groups:
        pool = next(r for r in members if r.type == "AdaptiveAvgPool2d")
        elements = math.prod(pool.in_shape)  # C·H·W of the map the gate pools
        pooled += elements
        groups_joined = radix if kind is GateKind.SPLIT else 1
        multiplies += groups_joined * elements
        joining += 2 * (groups_joined - 1) * elements  # sum before the pool, sum after the weighing
        squashed += math.prod(members[-1].out_shape)  # the last row squashes: Sigmoid / RadixSoftmax
        stage = stages.setdefault(members[0].stage, [0, 0, 0])
        stage[0] += 1
        stage[1] += sum(r.params for r in members)
        stage[2] += sum(r.macs for r in members)
    rows = [r for members in groups for r in members]
    return GateCost(
        kind=kind, gates=len(groups), params=sum(r.params for r in rows), macs=sum(r.macs for r in rows),
        pooled=pooled, multiplies=multiplies, joining_adds=joining, squashed=squashed,
        activation_bytes=sum(r.activation_bytes for r in rows),
        stages=tuple(StageGates(name, *figures) for name, figures in stages.items()))


_KIND_WORDS = {GateKind.SE: N_("SE gates"), GateKind.ECA: N_("ECA gates"),
               GateKind.SPLIT: N_("split-attention gates")}


# How a gate's parameters grow with its channels C, in a sentence shown through _().
_GROWTH = {
    GateKind.SE: N_("an SE gate's two 1x1 convs hold about 2·C²/r weights, so the widest stage holds most."),
    GateKind.ECA: N_("an ECA gate's 1-D kernel grows with log₂ C only: a few weights per gate."),
    GateKind.SPLIT: N_("the gate's two 1x1 convs grow with the square of the block's inner width."),
}


def gate_growth(kind: GateKind) -> str:
    """How a gate's parameters grow with the channels it gates, a sentence in the reader's language."""
    return _(_GROWTH[kind])


def gate_words(kind: GateKind) -> str:
    """ "SE gates", "ECA gates", "split-attention gates", in the reader's language."""
    return _(_KIND_WORDS[kind])


def gate_cost_lines(table: LayerTable) -> list[str]:
    """What the gates cost, a sentence per kind, in the reader's language; empty without gates."""
    lines = []
    totals = table.totals
    for cost in gate_costs(table):
        top = cost.top_stage
        joining = _(", {adds} adds joining the radix groups").format(adds=human_count(cost.joining_adds)) \
            if cost.joining_adds else ""
        lines.append(_(
            "**{gates}** ({count}, one per block): {params} parameters ({params_share:.2%} of the model) and {macs} "
            "MACs ({macs_share:.2%}) in their convs, counted in the totals; plus {pooled} pooling adds, {multiplies} "
            "gate multiplies{joining} and {squashed} sigmoid/softmax values per image: elementwise work that the MACs "
            "convention does not count, like BN, ReLU and the residual add. Their rows hold {bytes} of activations. "
            "{stage} holds {stage_share:.0%} of their parameters: {growth}").format(
            gates=gate_words(cost.kind), count=cost.gates, params=human_count(cost.params),
            params_share=cost.params / totals.params, macs=human_count(cost.macs), macs_share=cost.macs / totals.macs,
            pooled=human_count(cost.pooled), multiplies=human_count(cost.multiplies), joining=joining,
            squashed=human_count(cost.squashed), bytes=human_bytes(cost.activation_bytes), stage=top.stage,
            stage_share=top.params / cost.params if cost.params else 0, growth=gate_growth(cost.kind)))
    return lines
