"""Two layer tables side by side: totals, aligned stages, and where the extra cost goes."""

from __future__ import annotations

from dataclasses import dataclass

from explorer.anatomy import LayerTable
from explorer.table_format import human_bytes, human_count


@dataclass(frozen=True)
class TotalsDiff:
    """One whole-model figure of models A and B."""

    metric: str
    a: int
    b: int

    @property
    def difference(self) -> int:
        return self.b - self.a

    @property
    def ratio(self) -> float | None:
        return self.b / self.a if self.a else None


@dataclass(frozen=True)
class StagePair:
    """One stage of both models (None where a model has no such stage)."""

    name: str
    a_blocks: int | None
    b_blocks: int | None
    a_out: tuple[int, ...] | None
    b_out: tuple[int, ...] | None
    a_params: int
    b_params: int
    a_macs: int
    b_macs: int
    a_activation_bytes: int
    b_activation_bytes: int


def totals_diff(a: LayerTable, b: LayerTable) -> tuple[TotalsDiff, ...]:
    ta, tb = a.totals, b.totals
    return (
        TotalsDiff("Depth (weighted layers)", ta.depth, tb.depth),
        TotalsDiff("Parameters", ta.params, tb.params),
        TotalsDiff("MACs (conv+linear)", ta.macs, tb.macs),
        TotalsDiff("FLOPs (= 2 × MACs)", ta.flops, tb.flops),
        TotalsDiff("Activation memory (bytes, fp32, one image)", ta.activation_bytes, tb.activation_bytes),
        TotalsDiff("Leaf layers", ta.layers, tb.layers),
        TotalsDiff("Receptive field (px)", ta.rf_size, tb.rf_size),
    )


def aligned_stages(a: LayerTable, b: LayerTable) -> tuple[StagePair, ...]:
    """Stages of both models in order (stem, layer1 ..., head), matched by name."""
    sa, sb = {s.name: s for s in a.stages}, {s.name: s for s in b.stages}
    names = list(dict.fromkeys([*sa, *sb]))
    names.sort(key=lambda n: (n != "stem", n == "head"))  # stem first, head last, layers in order
    pairs = []
    for name in names:
        x, y = sa.get(name), sb.get(name)
        pairs.append(StagePair(
            name=name,
            a_blocks=x.blocks if x else None, b_blocks=y.blocks if y else None,
            a_out=x.out_shape if x else None, b_out=y.out_shape if y else None,
            a_params=x.params if x else 0, b_params=y.params if y else 0,
            a_macs=x.macs if x else 0, b_macs=y.macs if y else 0,
            a_activation_bytes=x.activation_bytes if x else 0, b_activation_bytes=y.activation_bytes if y else 0,
        ))
    return tuple(pairs)


def _times(b: float, a: float) -> str:
    return f"{b / a:.2f}×" if a else "∞×"


def explain_difference(a: LayerTable, b: LayerTable) -> list[str]:
    """A few sentences on where B's extra (or smaller) cost goes, all from the tables."""
    name_a, name_b = a.spec.name, b.spec.name
    ta, tb = a.totals, b.totals
    pairs = aligned_stages(a, b)
    lines = [
        f"**{name_b}** has {tb.depth} weighted layers against {ta.depth} for **{name_a}**, "
        f"{_times(tb.params, ta.params)} the parameters ({human_count(tb.params)} vs {human_count(ta.params)}) and "
        f"{_times(tb.macs, ta.macs)} the MACs ({human_count(tb.macs)} vs {human_count(ta.macs)}).",
    ]
    macs_delta = tb.macs - ta.macs
    if macs_delta:
        top = max(pairs, key=lambda p: abs(p.b_macs - p.a_macs))
        share = (top.b_macs - top.a_macs) / macs_delta
        lines.append(
            f"The largest change in MACs is in **{top.name}**: {human_count(top.a_macs)} → {human_count(top.b_macs)} "
            f"({share:.0%} of the whole difference), with {top.a_blocks or 0} → {top.b_blocks or 0} blocks."
        )
    params_delta = tb.params - ta.params
    if params_delta:
        top = max(pairs, key=lambda p: abs(p.b_params - p.a_params))
        lines.append(
            f"Most of the parameter change is in **{top.name}**: {human_count(top.a_params)} → "
            f"{human_count(top.b_params)} ({(top.b_params - top.a_params) / params_delta:.0%} of it)."
        )
    if a.spec.block is not b.spec.block:
        first_a = next(x for x in a.blocks if x.block is not None)
        first_b = next(x for x in b.blocks if x.block is not None)
        lines.append(
            f"The blocks differ: {name_a} uses {a.spec.block.value} blocks ({first_a.convs}, expansion "
            f"{a.spec.block.expansion}), {name_b} uses {b.spec.block.value} blocks ({first_b.convs}, expansion "
            f"{b.spec.block.expansion}); the last stage outputs {a.stages[-2].out_shape[0]} vs "
            f"{b.stages[-2].out_shape[0]} channels, so the fc layer has {next(s for s in a.stages if s.name == 'head').params:,} vs "
            f"{next(s for s in b.stages if s.name == 'head').params:,} parameters."
        )
    if tb.activation_bytes != ta.activation_bytes:
        top = max(pairs, key=lambda p: abs(p.b_activation_bytes - p.a_activation_bytes))
        lines.append(
            f"Activation memory per image: {human_bytes(ta.activation_bytes)} → {human_bytes(tb.activation_bytes)} "
            f"({_times(tb.activation_bytes, ta.activation_bytes)}), mostly in **{top.name}** "
            f"({human_bytes(top.a_activation_bytes)} → {human_bytes(top.b_activation_bytes)})."
        )
    return lines
