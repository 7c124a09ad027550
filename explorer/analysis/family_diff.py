"""Where two ResNets of the family beyond v1 differ, block kind by block kind, from their layer tables.

`compare.explain_difference` says how much and in which stage; this module names what:

* a channel gate one model has and the other lacks (SE, ECA, split attention): what it
  adds in parameters and MACs (and their shares), where (which stage), and the elementwise
  work and activation memory beside them (`gates.gate_costs`);
* pre-activation: BN moves before the convs, so the BN parameters move between the stem,
  the blocks, the shortcuts and the head; each place's change is computed from the rows;
* what sits between a bottleneck's two 1x1 convs: one 3x3, split attention or Res2Net's
  groups, with the parameters and MACs of that middle part.

Every sentence is in the reader's language (call the functions where they are shown).
"""

from __future__ import annotations

from collections.abc import Sequence

from explorer.analysis.anatomy import LayerRow, LayerTable
from explorer.analysis.gates import GateCost, gate_costs, gate_growth, gate_words
from explorer.analysis.table_format import human_bytes, human_count
from explorer.model.kinds import Block, MiddleConv
from explorer.runtime.i18n import N_, _

# Where a BN sits, for the pre-activation sentence: compared in English, shown through _().
BN_PLACES = {"stem": N_("stem"), "blocks": N_("blocks"), "shortcuts": N_("shortcuts"), "head": N_("head")}
# A block's middle part (between the two 1x1 convs of a bottleneck), by the names under the block.
MIDDLE_NAMES = ("conv2", "bn2", "convs.", "bns.", "pool", "avd_first", "avd_last")


def bn_params_by_place(table: LayerTable) -> dict[str, int]:
    """BatchNorm parameters in the stem, the blocks' residual branches, the shortcuts and the head."""
    places = dict.fromkeys(BN_PLACES, 0)
    for row in table.rows:
        if row.type != "BatchNorm2d":
            continue
        place = "shortcuts" if row.downsample else "blocks" if row.block is not None else row.stage
        places[place] += row.params
    return places


def _local(row: LayerRow) -> str:
    return row.name[len(row.block_name) + 1:]


def middle_rows(table: LayerTable) -> tuple[LayerRow, ...]:
    """The rows between each bottleneck's two 1x1 convs: its 3x3 (and BN), split attention or Res2Net's groups."""
    return tuple(r for r in table.rows if r.block is not None and not r.downsample
                 and _local(r).startswith(MIDDLE_NAMES))


def _middle_words(table: LayerTable) -> str:
    spec = table.spec
    if spec.middle_conv is MiddleConv.SPLIT:
        return _("split attention (radix {radix}: groups of 3x3 convs weighed per channel by a gate)").format(
            radix=spec.radix)
    if spec.middle_conv is MiddleConv.RES2:
        return _("Res2Net's {convs} 3x3 convs on {scales} channel groups (each adds the previous group's output)") \
            .format(convs=max(1, spec.scales - 1), scales=spec.scales)
    return _("one 3x3 conv")


def _share(part: int, whole: int) -> str:
    """``part`` as a signed percentage of ``whole``, three significant digits: "+9.9%", "+0.000336%"."""
    return f"{100 * part / whole:+.3g}%" if whole else "–"


def _gate_line(name_a: str, name_b: str, a: LayerTable, cost: GateCost, added: bool) -> str:
    top = cost.top_stage
    figures = dict(
        gates=gate_words(cost.kind), name_a=name_a, name_b=name_b, count=cost.gates,
        params=f"{cost.params:,}", params_share=_share(cost.params, a.totals.params),
        macs=human_count(cost.macs), macs_share=_share(cost.macs, a.totals.macs), stage=top.stage,
        stage_share=top.params / cost.params if cost.params else 0, elementwise=human_count(cost.uncounted),
        bytes=human_bytes(cost.activation_bytes), growth=gate_growth(cost.kind),
        which=_("pooling, the gate multiply, the adds joining the radix groups") if cost.joining_adds
        else _("pooling, the gate multiply"))
    if added:
        return _("**{name_b}**'s {gates} ({count}) add {params} parameters ({params_share} on {name_a}) and {macs} MACs "
                 "({macs_share}), {stage_share:.0%} of those parameters in **{stage}**: {growth} Beside them, "
                 "{elementwise} elementwise operations the MACs leave out ({which}) and {bytes} more activations per "
                 "image.").format(**figures)
    return _("**{name_b}** has no {gates}: {name_a}'s {count} hold {params} parameters and {macs} MACs, "
             "{stage_share:.0%} of the parameters in **{stage}**, plus {elementwise} uncounted elementwise operations "
             "and {bytes} of activations per image.").format(**figures)


def gate_lines(a: LayerTable, b: LayerTable) -> list[str]:
    """What the gates one model has and the other lacks cost (B against A), a sentence per gate kind."""
    costs_a = {c.kind: c for c in gate_costs(a)}
    costs_b = {c.kind: c for c in gate_costs(b)}
    name_a, name_b = a.spec.name, b.spec.name
    lines = [_gate_line(name_a, name_b, a, cost, added=True) for kind, cost in costs_b.items() if kind not in costs_a]
    lines += [_gate_line(name_a, name_b, a, cost, added=False) for kind, cost in costs_a.items() if kind not in costs_b]
    return lines


def preact_lines(a: LayerTable, b: LayerTable) -> list[str]:
    """Where pre-activation moves the BN parameters (B against A); empty when both or neither pre-activate."""
    if a.spec.preact == b.spec.preact:
        return []
    places_a, places_b = bn_params_by_place(a), bn_params_by_place(b)
    moved = [_("{place} {change:+,}").format(place=_(BN_PLACES[p]), change=places_b[p] - places_a[p])
             for p in BN_PLACES if places_b[p] != places_a[p]]
    bn_change = sum(places_b.values()) - sum(places_a.values())
    preact, other = (b, a) if b.spec.preact else (a, b)
    return [_(
        "Pre-activation (**{preact}**) moves BN before each conv: a block runs BN-ReLU on its input and leaves the "
        "sum alone, the stem has no BN-ReLU, the projection shortcuts no BN, and one BN (final_bn) normalizes the last "
        "stage before the pool. **{name_b}** differs from **{name_a}** by {params:+,} parameters, {bn:+,} of them BN: "
        "{moved}. A stage's first block normalizes its input (the previous stage's channels) instead of its output, "
        "and {other} normalizes each shortcut's projection as well.").format(
        preact=preact.spec.name, name_a=a.spec.name, name_b=b.spec.name,
        params=b.totals.params - a.totals.params, bn=bn_change, moved=", ".join(moved), other=other.spec.name)]


def middle_lines(a: LayerTable, b: LayerTable) -> list[str]:
    """What replaces a bottleneck's 3x3 (B against A), with that middle part's parameters and MACs."""
    if a.spec.middle_conv is b.spec.middle_conv or Block.BASIC in (a.spec.block, b.spec.block):
        return []
    rows_a, rows_b = middle_rows(a), middle_rows(b)
    params_a, params_b = sum(r.params for r in rows_a), sum(r.params for r in rows_b)
    macs_a, macs_b = sum(r.macs for r in rows_a), sum(r.macs for r in rows_b)
    return [_(
        "Between the two 1x1 convs of each bottleneck, **{name_b}** has {middle_b} where **{name_a}** has "
        "{middle_a}. That middle part holds {params_b} parameters and {macs_b} MACs against {params_a} and "
        "{macs_a} ({params_change:+,} parameters, {macs_change} MACs); the 1x1 convs around it follow its width.").format(
        name_a=a.spec.name, name_b=b.spec.name, middle_a=_middle_words(a), middle_b=_middle_words(b),
        params_a=human_count(params_a), params_b=human_count(params_b), macs_a=human_count(macs_a),
        macs_b=human_count(macs_b), params_change=params_b - params_a,
        macs_change=("+" if macs_b >= macs_a else "−") + human_count(abs(macs_b - macs_a)))]


def family_lines(a: LayerTable, b: LayerTable) -> list[str]:
    """Every sentence of this module for B against A: gates, pre-activation, the middle of the bottleneck."""
    return [*gate_lines(a, b), *preact_lines(a, b), *middle_lines(a, b)]


def tables_named(tables: Sequence[LayerTable]) -> list[str]:
    """ "A: resnet50", "B: seresnet50", "C: …": the labels the Compare page gives its models."""
    return [f"{label}: {table.spec.name}" for label, table in zip("ABC", tables)]
