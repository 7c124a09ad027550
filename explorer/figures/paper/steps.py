"""What the paper figure draws for each block, top-down: layer boxes with the paper's text, and gate branches.

A plain ResNet block is its convs ("3x3 conv, 128, /2"; BN and ReLU left out, as the paper
draws them). The family beyond v1 adds what the column must show to be explained:

* pre-activation (He et al. 2016b): "BN, ReLU, 3x3 conv, 64" — the order inside the block —
  and the final "BN, ReLU" before the pool; nothing after the add, so the arc stays clean;
* a channel gate (SE, ECA) as a `GateStep`: a side branch (pool, squeeze, sigmoid) beside
  the trunk that multiplies (×) the residual branch before the add;
* ResNeSt's split attention: the 3x3 as radix groups, and its gate (a softmax across the
  groups, Σ) as a side branch;
* Res2Net's hierarchy: the 3x3s over channel groups x1 … xs, each adding the previous
  output ("x2 + y1: 3x3 conv, 26").
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.analysis.anatomy import LayerRow, LayerTable
from explorer.analysis.block_parts import BlockParts, Gate, GateKind, block_parts
from explorer.model.kinds import MiddleConv
from explorer.runtime.i18n import _

_BOX_TYPES = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Linear"}


@dataclass(frozen=True)
class BoxStep:
    """One box of the trunk."""

    text: str
    layer: str  # the qualified name of the row it draws ("" for a box that computes nothing)


@dataclass(frozen=True)
class GateStep:
    """A gate's side branch: its boxes beside the trunk, then the node where it rejoins."""

    title: str  # "SE, r=16"
    texts: tuple[str, ...]  # "global avg pool", "fc 16, ReLU", "fc 256, sigmoid"
    layers: tuple[str, ...]  # the row each box draws
    symbol: str  # "×": multiplies each channel; "Σ": adds the radix groups with their weights


Step = BoxStep | GateStep


def layer_text(row: LayerRow) -> str:
    """The paper's text for one layer: "7x7 conv, 64, /2", "pool, /2", "avg pool", "fc 1000"."""
    if row.type == "Conv2d":
        parts = [f"{row.kernel[0]}x{row.kernel[1]} conv", str(row.out_shape[0])]
        if row.groups > 1:
            parts.append(f"{row.groups} groups")
        if row.dilation[0] > 1:
            parts.append(f"dilation {row.dilation[0]}")
    elif row.type == "Linear":
        return f"fc {row.out_shape[0]}"
    else:
        parts = ["pool" if row.type == "MaxPool2d" else "avg pool"]
    if row.reduces_resolution and row.stride is not None:
        parts.append(f"/{row.stride[0]}")
    return ", ".join(parts)


def _gate_step(gate: Gate, radix: int) -> GateStep:
    by_type = [r for r in gate.rows if r.type in ("Conv2d", "Conv1d", "AdaptiveAvgPool2d")]
    layers = tuple(r.name for r in by_type)
    if gate.kind is GateKind.SE:
        texts = ("global avg pool", f"fc {gate.squeezed}, ReLU", f"fc {gate.weights}, sigmoid")
    elif gate.kind is GateKind.ECA:
        texts = ("global avg pool", f"1-D conv, k={gate.kernel}", "sigmoid")
        layers = (*layers, gate.rows[-1].name)
    else:
        texts = ("sum groups, avg pool", f"fc {gate.squeezed}, BN, ReLU",
                 f"fc {gate.weights}, softmax" if radix > 1 else f"fc {gate.weights}, sigmoid")
    title = f"split attention, radix {radix}" if gate.kind is GateKind.SPLIT else gate.short
    return GateStep(title, texts, layers, "Σ" if gate.kind is GateKind.SPLIT else "×")


def _res2_text(row: LayerRow, index: int, parallel: bool) -> str:
    """Res2Net's i-th 3x3: "x2 + y1: 3x3 conv, 26" (each group adds the previous output), or "x2: …" where
    the block convolves its groups side by side (it strides or projects)."""
    source = f"x{index + 1}" if index == 0 or parallel else f"x{index + 1} + y{index}"
    return f"{source}: {layer_text(row)}"


def block_steps(parts: BlockParts) -> tuple[Step, ...]:
    """The boxes and gate branches of one residual block, top-down."""
    rows = [r for r in parts.branch if r.type in _BOX_TYPES]
    gate = parts.gate
    gate_at = None if gate is None else gate.rows[0].index
    steps: list[Step] = []
    res2 = [r for r in rows if ".convs." in r.name]
    parallel = any(r.type == "AvgPool2d" for r in rows) if res2 else False
    for row in rows:
        if gate_at is not None and row.index > gate_at:
            steps.append(_gate_step(gate, parts.radix))
            gate_at = None
        text = layer_text(row)
        if parts.preact and row.type == "Conv2d":
            text = f"BN, ReLU, {text}"
        elif parts.scales > 1 and row in res2:
            text = _res2_text(row, res2.index(row), parallel)
        elif parts.scales > 1 and row.type == "AvgPool2d":
            text = f"x{parts.scales}: {text}"
        elif parts.scales > 1 and row is rows[0]:
            text = f"{text}, split {parts.scales}×{res2[0].in_shape[0]}"
        elif parts.scales > 1 and row is rows[-1]:
            text = f"concat, {text}"
        elif parts.radix > 1 and row.name.endswith(".conv2.conv"):
            text = f"{layer_text(row).split(',')[0]}, {parts.radix}×{row.out_shape[0] // parts.radix}"
        steps.append(BoxStep(text, row.name))
    if gate_at is not None:
        steps.append(_gate_step(gate, parts.radix))
    if parts.scales > 1 and not parallel:  # the last group passes through to the concat untouched
        last = next(i for i, s in enumerate(steps) if isinstance(s, BoxStep) and s.layer == rows[-1].name)
        steps.insert(last, BoxStep(f"x{parts.scales}: kept", ""))  # no layer: the group is used as it is
    return tuple(steps)


def outer_steps(table: LayerTable, rows: list[LayerRow]) -> tuple[Step, ...]:
    """The stem's or the head's boxes; a pre-activation head starts with its final BN and ReLU."""
    steps = [BoxStep(layer_text(r), r.name) for r in rows if r.type in _BOX_TYPES and not r.downsample]
    final_bn = next((r for r in rows if r.name == "final_bn"), None)
    if final_bn is not None:
        steps.insert(0, BoxStep("BN, ReLU", final_bn.name))
    return tuple(steps)


def step_texts(steps: tuple[Step, ...]) -> list[str]:
    """Every trunk box's text (gates apart: they have their own width)."""
    return [s.text for s in steps if isinstance(s, BoxStep)]


def figure_notes(table: LayerTable) -> list[str]:
    """What the figures draw for this model beyond the paper's blocks, in the reader's language: a
    sentence each for pre-activation, a channel gate, split attention and Res2Net's hierarchy."""
    spec, notes = table.spec, []
    sizes: dict[str, set[str]] = {}  # "SE": {"r=8", "r=16"}: a gate's kind and the sizes it takes in this net
    for parts in block_parts(table).values():
        if parts.gate is not None:
            kind, _comma, size = parts.gate.short.partition(", ")
            sizes.setdefault(kind, set()).add(size)
    gates = [f"{kind} ({', '.join(sorted(found, key=lambda s: (len(s), s)))})" for kind, found in sizes.items()]
    if spec.preact:
        notes.append(_("Pre-activation: each block runs BN, ReLU, conv in that order, and nothing follows the add, "
                       "so the identity shortcut carries x untouched; one BN, ReLU comes before the pool."))
    if spec.middle_conv is MiddleConv.SPLIT:
        notes.append(_("Split attention: the 3x3 makes {radix} groups of channels; the side branch gives each group a "
                       "weight per channel (a softmax across the groups) and Σ adds the groups with them.").format(
            radix=spec.radix))
    elif gates:
        notes.append(_("The channel gate {gates} is a side branch: it pools the residual branch to one number per "
                       "channel, turns them into a weight in (0, 1) per channel, and × multiplies each channel by its "
                       "weight before the add.").format(gates="; ".join(gates)))
    if spec.middle_conv is MiddleConv.RES2:
        notes.append(_("Res2Net: the first 1x1's output is cut into {scales} channel groups x1 … x{scales}; each 3x3 "
                       "also takes the previous one's output (x2 + y1), so later groups see larger windows (a block that "
                       "strides or projects convolves them side by side), and the groups are concatenated for the "
                       "last 1x1.").format(scales=spec.scales))
    return notes
