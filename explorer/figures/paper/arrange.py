"""The paper figure laid out from layer tables: the paper's text per layer, stages folded, columns placed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from explorer.analysis.anatomy import BlockRow, LayerTable
from explorer.analysis.block_parts import block_parts
from explorer.analysis.shortcuts import SHORTCUT_STYLES, drawn_kinds
from explorer.analysis.table_format import folded
from explorer.figures.paper.primitives import (
    FONT, GATE_FILL, SMALL, Arc, Box, Fold, Label, Line, Node, PaperFigure, Panel, Role,
)
from explorer.figures.paper.steps import BoxStep, GateStep, Step, block_steps, outer_steps, step_texts
from explorer.model.kinds import Shortcut
from explorer.runtime.i18n import _

FOLD_AFTER = 6  # ResNet-34's longest stage (the paper draws it whole); longer stages fold
FOLD_HEAD = 2  # blocks shown before the fold: the stage's first (it may differ) and one typical block
SLIDE = (1920, 1080)  # a 16:9 slide, in pixels: what ``columns=None`` fits the figure into
MAX_COLUMNS = 6

# Geometry, in pixels at scale 1.
CHAR_WIDTH = 0.62  # DejaVu Sans' mean advance, in ems: box widths are estimated from it
BOX_HEIGHT, GAP = 24, 10  # a layer box and the space (with the flow arrow) below it
FOLD_HEIGHT = 22
STAGE_GAP = 30  # between stages: room for the output-shape label
SHAPE_MARGIN = 96  # left of the column, for "112×112×64"
ARC_REACH = 22  # how far a shortcut arc bows out right of the boxes
COLUMN_SPACE = 34  # between the columns of one network
PANEL_SPACE = 56  # between the residual net and its plain twin
TOP, TITLE_HEIGHT, INPUT_HEIGHT = 16, 30, 30
MARGIN = 16
LEGEND_ROW = 22
GATE_TITLE = 18  # a gate branch's name above its boxes
GATE_SPACE = 18  # between a gate branch's boxes and the trunk's

# A pastel per stage, as the paper colours its stages; stem and head in grey.
STAGE_FILLS = ("#e4dcf2", "#d9ecd5", "#f6dada", "#d7e6f5", "#fbebcf", "#d6f0ef", "#eee2d6", "#e6e6e6")
STEM_HEAD_FILL = "#eeeeee"

def _shape_text(shape: tuple[int, ...]) -> str:
    channels, height, width = shape
    return f"{height}×{width}×{channels}"


def _step_height(step: Step) -> float:
    if isinstance(step, BoxStep):
        return BOX_HEIGHT
    return GATE_TITLE + len(step.texts) * (BOX_HEIGHT + GAP) - GAP


@dataclass(frozen=True)
class _Stage:
    """One stage's part of the column: its blocks in order, an int standing for folded blocks."""

    name: str
    items: tuple[tuple[BlockRow, tuple[Step, ...]] | int, ...]
    out_shape: tuple[int, ...]
    fill: str

    @property
    def height(self) -> float:
        """Pixels from the stage's first box to the next stage's: boxes, gates, folds, gaps and the shape label."""
        steps = [step for item in self.items if not isinstance(item, int) for step in item[1]]
        folds = sum(1 for item in self.items if isinstance(item, int))
        return (sum(_step_height(s) for s in steps) + folds * FOLD_HEIGHT + GAP * (len(steps) + folds - 1)
                + STAGE_GAP)


def _stages(table: LayerTable, fold_after: int) -> list[_Stage]:
    """The column's stages with the steps of every shown block; stages longer than ``fold_after`` fold."""
    rows_by_block: dict[str, list] = {}
    for row in table.rows:
        rows_by_block.setdefault(row.block_name, []).append(row)
    parts = block_parts(table)
    stages = []
    residual = 0
    for stage in table.stages:
        blocks = folded([(b, block_steps(parts[b.name]) if b.name in parts else outer_steps(table, rows_by_block[b.name]))
                         for b in table.blocks if b.stage == stage.name], fold_after, FOLD_HEAD)
        if stage.name in ("stem", "head"):
            fill = STEM_HEAD_FILL
        else:
            fill = STAGE_FILLS[residual % len(STAGE_FILLS)]
            residual += 1
        stages.append(_Stage(stage.name, tuple(blocks), stage.out_shape, fill))
    return stages


def _text_width(text: str, size: int = FONT) -> float:
    return len(text) * size * CHAR_WIDTH

# ---- placing --------------------------------------------------------------------------


def _split(heights: Sequence[float], columns: int) -> list[tuple[int, int]]:
    """Cut the stages into ``columns`` runs of consecutive stages, the tallest run as short as can be."""
    best: tuple[float, list[tuple[int, int]]] | None = None
    for cuts in itertools.combinations(range(1, len(heights)), columns - 1):
        edges = [0, *cuts, len(heights)]
        runs = list(itertools.pairwise(edges))
        tallest = max(sum(heights[a:b]) for a, b in runs)
        if best is None or tallest < best[0]:
            best = (tallest, runs)
    return best[1]


@dataclass
class _Drawing:
    """Primitives as they are placed (mutable while laying out; frozen into a `PaperFigure`)."""

    boxes: list[Box]
    arcs: list[Arc]
    folds: list[Fold]
    labels: list[Label]
    lines: list[Line]
    panels: list[Panel]
    nodes: list[Node]


@dataclass(frozen=True)
class _Widths:
    """The column's widths: the trunk's boxes, and the gate branches' boxes left of them (0: no gates)."""

    box: float
    gate: float

    @property
    def gate_room(self) -> float:
        return self.gate + GATE_SPACE if self.gate else 0.0


def _place_gate(step: GateStep, trunk: float, left: float, y: float, block: str, widths: _Widths,
                drawing: _Drawing) -> float:
    """A gate's side branch from y down: its frame, name and boxes left of the trunk, the line that
    leaves the trunk into its first box, and the node where its last box rejoins the trunk. Returns the node's bottom."""
    gate_left = left - GATE_SPACE - widths.gate
    centre = gate_left + widths.gate / 2
    height = _step_height(step)
    drawing.panels.append(Panel(gate_left - 6, y - 4, widths.gate + 12, height + 8, block))
    drawing.labels.append(Label(centre, y + GATE_TITLE / 2 - 2, step.title, Role.GATE))
    top = y + GATE_TITLE
    for index, (text, layer) in enumerate(zip(step.texts, step.layers)):
        box_y = top + index * (BOX_HEIGHT + GAP)
        if index:
            drawing.lines.append(Line(centre, box_y - GAP, centre, box_y, gate=True))
        drawing.boxes.append(Box(gate_left, box_y, widths.gate, BOX_HEIGHT, text, layer, block, GATE_FILL, gate=True))
    first_mid, last_mid = top + BOX_HEIGHT / 2, top + (len(step.texts) - 1) * (BOX_HEIGHT + GAP) + BOX_HEIGHT / 2
    node = Node(trunk, last_mid, step.symbol, block)
    drawing.lines.append(Line(trunk, first_mid, gate_left + widths.gate, first_mid, gate=True))  # into the gate
    drawing.lines.append(Line(gate_left + widths.gate, last_mid, trunk - node.radius, last_mid, gate=True))  # back
    drawing.nodes.append(node)
    return last_mid + node.radius


def _place_column(stages: Sequence[_Stage], x: float, y: float, widths: _Widths, incoming: str,
                  drawing: _Drawing) -> float:
    """Draw consecutive stages top-down from (x, y), the trunk at ``x + SHAPE_MARGIN + box_width / 2``
    (gate branches, if any, take their room left of the trunk's boxes).

    ``incoming`` heads the column: the image's shape, or the shape a continued column takes
    in. Returns the y below the column's last label.
    """
    left = x + SHAPE_MARGIN + widths.gate_room
    trunk = left + widths.box / 2
    drawing.labels.append(Label(trunk, y + INPUT_HEIGHT / 2 - 4, incoming, Role.INPUT))
    y += INPUT_HEIGHT
    previous_bottom: float | None = None
    for stage in stages:
        for item in stage.items:
            if isinstance(item, int):
                if previous_bottom is not None:
                    drawing.lines.append(Line(trunk, previous_bottom, trunk, y))
                drawing.folds.append(Fold(left, y, widths.box, FOLD_HEIGHT, stage.name, item))
                y += FOLD_HEIGHT + GAP
                previous_bottom = y - GAP
                continue
            block, steps = item
            block_top = y
            for step in steps:
                if isinstance(step, GateStep):  # the trunk runs down beside the gate, into its node
                    bottom = _place_gate(step, trunk, left, y, block.name, widths, drawing)
                    node = drawing.nodes[-1]
                    drawing.lines.append(Line(trunk, previous_bottom, trunk, node.y - node.radius))
                    y += _step_height(step) + GAP
                    previous_bottom = bottom
                    continue
                if previous_bottom is not None:
                    drawing.lines.append(Line(trunk, previous_bottom, trunk, y))
                drawing.boxes.append(Box(left, y, widths.box, BOX_HEIGHT, step.text, step.layer, block.name,
                                         stage.fill))
                y += BOX_HEIGHT + GAP
                previous_bottom = y - GAP
            if block.shortcut is not None and block.shortcut.style is not None:  # a plain block: no arc
                drawing.arcs.append(Arc(trunk, left + widths.box + ARC_REACH, block_top - GAP / 2,
                                        max(previous_bottom, y - GAP) + GAP / 2, block.shortcut, block.name))
        y += STAGE_GAP - GAP
        if stage.name != "head":
            drawing.labels.append(Label(left - 10, y - STAGE_GAP / 2, _shape_text(stage.out_shape), Role.SHAPE,
                                        anchor="end"))
    return y


def _column_width(widths: _Widths) -> float:
    return SHAPE_MARGIN + widths.gate_room + widths.box + ARC_REACH + 8


def _layout(tables: Sequence[LayerTable], fold_after: int, columns: int, name: str) -> PaperFigure:
    per_table = [_stages(t, fold_after) for t in tables]
    steps = [step for stages in per_table for s in stages for item in s.items if not isinstance(item, int)
             for step in item[1]]
    gates = [step for step in steps if isinstance(step, GateStep)]
    gate_texts = [t for g in gates for t in g.texts]
    widths = _Widths(max(150.0, max(_text_width(t) for t in step_texts(tuple(steps))) + 24),
                     max([_text_width(t) + 24 for t in gate_texts] + [_text_width(g.title, SMALL) + 12 for g in gates],
                         default=0.0))
    box_width = widths.box
    drawing = _Drawing([], [], [], [], [], [], [])
    column_width = _column_width(widths)
    panel_width = columns * column_width + (columns - 1) * COLUMN_SPACE
    bottom = 0.0
    for panel, (table, stages) in enumerate(zip(tables, per_table)):
        x0 = MARGIN + panel * (panel_width + PANEL_SPACE)
        title_x = (x0 + (panel_width + SHAPE_MARGIN) / 2 if columns > 1
                   else x0 + SHAPE_MARGIN + widths.gate_room + box_width / 2)
        drawing.labels.append(Label(title_x, TOP + TITLE_HEIGHT / 2, table.spec.name, Role.TITLE))
        runs = _split([s.height for s in stages], columns)
        for column, (a, b) in enumerate(runs):
            x = x0 + column * (column_width + COLUMN_SPACE)
            incoming = f"image, {_shape_text(table.rows[0].in_shape)}" if a == 0 else _shape_text(stages[a - 1].out_shape)
            end = _place_column(stages[a:b], x, TOP + TITLE_HEIGHT, widths, incoming, drawing)
            bottom = max(bottom, end)
    kinds = drawn_kinds(arc.kind for arc in drawing.arcs)
    y = bottom + LEGEND_ROW / 2
    for kind in kinds:  # the legend in English, the figure's language (see the package's docstring)
        drawing.lines.append(Line(MARGIN, y, MARGIN + 40, y, kind))
        drawing.labels.append(Label(MARGIN + 50, y, SHORTCUT_STYLES[kind].legend, Role.LEGEND, anchor="start"))
        y += LEGEND_ROW
    legend_width = max((_text_width(SHORTCUT_STYLES[k].legend, SMALL) + 60 for k in kinds), default=0)
    width = MARGIN * 2 + max(len(tables) * panel_width + (len(tables) - 1) * PANEL_SPACE, legend_width)
    height = y - LEGEND_ROW + 16 + MARGIN if kinds else bottom + MARGIN
    return PaperFigure(width, height, tuple(drawing.boxes), tuple(drawing.arcs), tuple(drawing.folds),
                       tuple(drawing.labels), tuple(drawing.lines), name, tuple(drawing.panels), tuple(drawing.nodes))


def slide_scale(figure: PaperFigure) -> float:
    """How much the figure is magnified (above 1) or shrunk to fill a 16:9 slide (`SLIDE`)."""
    return min(SLIDE[0] / figure.width, SLIDE[1] / figure.height)


def paper_figure(table: LayerTable, *, twin: LayerTable | None = None, fold_after: int = FOLD_AFTER,
                 columns: int | None = 1) -> PaperFigure:
    """Figure 3 of the paper for ``table``'s model, beside ``twin``'s when given.

    ``twin`` is the same network without shortcuts (the paper's "plain" net; for a plain
    model, the residual one: `degradation.twin_of`); the plain one stands on the left, as in
    the paper. Stages with more than ``fold_after`` blocks show their first two blocks, a fold
    and the last block. ``columns`` cuts each network's column between stages into that many
    columns side by side; ``None`` picks the count that shows the figure largest on a 16:9 slide.
    """
    if fold_after < FOLD_HEAD + 1:
        raise ValueError(_("fold_after must be at least {minimum} (the first {head} blocks and the last stay), "
                           "got {fold_after}.").format(minimum=FOLD_HEAD + 1, head=FOLD_HEAD, fold_after=fold_after))
    tables = [table]
    name = table.spec.name.replace(" ", "_")
    if twin is not None:
        tables = sorted([table, twin], key=lambda t: t.spec.shortcut is not Shortcut.NONE)  # plain first
        name += "_with_plain_twin" if table.spec.shortcut is not Shortcut.NONE else "_with_residual_twin"
    stage_count = len(table.stages)
    if columns is None:
        options = [_layout(tables, fold_after, k, name) for k in range(1, min(stage_count, MAX_COLUMNS) + 1)]
        return max(options, key=slide_scale)  # max keeps the first (fewest columns) of equals
    if not 1 <= columns <= stage_count:
        raise ValueError(_("columns must be between 1 and {stages} (one per stage at most), got {columns}.").format(
            stages=stage_count, columns=columns))
    return _layout(tables, fold_after, columns, name)
