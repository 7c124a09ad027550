"""The architecture drawn as in the paper: He et al. 2016, Figure 3 (https://arxiv.org/abs/1512.03385).

The layers stand in one column ("3x3 conv, 128, /2"), shortcuts are arcs beside it (solid:
identity, dashed: projection, dotted: zero-padded identity, option A), the output shape
sits between stages, and long stages fold into "… n more identical blocks". Everything is
read from the layer table of the real model, never typed in.

`paper_figure` lays the figure out as frozen primitives with coordinates in pixels;
`to_svg` and `to_png` draw the same primitives, so the page, the download and the CLI agree.
The figure's own words stay the paper's, in English, in every language (its fonts need no
CJK glyphs); the page's caption says what it shows in the reader's language.
"""

from __future__ import annotations

import enum
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from explorer.analysis.anatomy import BlockRow, LayerRow, LayerTable, layer_table
from explorer.studies.degradation import degradation_models
from explorer.runtime.i18n import _
from explorer.model.kinds import Shortcut
from explorer.analysis.table_format import folded

FOLD_AFTER = 6  # ResNet-34's longest stage (the paper draws it whole); longer stages fold
FOLD_HEAD = 2  # blocks shown before the fold: the stage's first (it may differ) and one typical block
SLIDE = (1920, 1080)  # a 16:9 slide, in pixels: what ``columns=None`` fits the figure into
MAX_COLUMNS = 6

# Geometry, in pixels at scale 1.
FONT, SMALL, TITLE_FONT = 13, 12, 15
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

# A pastel per stage, as the paper colours its stages; stem and head in grey.
STAGE_FILLS = ("#e4dcf2", "#d9ecd5", "#f6dada", "#d7e6f5", "#fbebcf", "#d6f0ef", "#eee2d6", "#e6e6e6")
STEM_HEAD_FILL = "#eeeeee"
INK = "#1f2d3d"
MUTED = "#55606e"


class ArcStyle(str, enum.Enum):
    """How a shortcut is drawn; the value is the block's `BlockRow.shortcut`."""

    IDENTITY = "identity"
    PROJECTION = "projection"
    AVG_PROJECTION = "avg-pool projection"
    ZERO_PAD = "zero-pad"

    @property
    def dashes(self) -> tuple[int, ...]:
        """On/off lengths in pixels; empty for a solid line."""
        return {ArcStyle.IDENTITY: (), ArcStyle.PROJECTION: (7, 4), ArcStyle.AVG_PROJECTION: (9, 3, 2, 3),
                ArcStyle.ZERO_PAD: (2, 3)}[self]

    @property
    def colour(self) -> str:
        return {ArcStyle.IDENTITY: INK, ArcStyle.PROJECTION: "#c0392b", ArcStyle.AVG_PROJECTION: "#8e44ad",
                ArcStyle.ZERO_PAD: "#16a085"}[self]

    @property
    def legend(self) -> str:
        return {ArcStyle.IDENTITY: "identity shortcut", ArcStyle.PROJECTION: "projection shortcut (1x1 conv + BN)",
                ArcStyle.AVG_PROJECTION: "avg pool + 1x1 projection shortcut",
                ArcStyle.ZERO_PAD: "zero-padded identity (option A)"}[self]


class Role(enum.Enum):
    """What a label says, which sets its font."""

    TITLE = "title"  # the network's name over its column
    INPUT = "input"  # what enters a column: the image, or the map a continued column takes in
    SHAPE = "shape"  # a stage's output shape, left of the column where the stage ends
    LEGEND = "legend"


@dataclass(frozen=True)
class Box:
    """One layer: a conv, a pool or the fc, with the paper's text ("3x3 conv, 128, /2")."""

    x: float  # left
    y: float  # top
    width: float
    height: float
    text: str
    layer: str  # qualified module name, e.g. "layer2.0.conv1"
    block: str  # the `BlockRow` it belongs to: "layer2.0", or "stem" / "head"
    fill: str

    @property
    def halves(self) -> bool:
        """The layer halves the feature map (its text ends in "/2")."""
        return self.text.endswith("/2")


@dataclass(frozen=True)
class Arc:
    """A block's shortcut: from the trunk above its first box to the trunk below its last."""

    x: float  # the trunk, where the arc leaves and rejoins
    reach: float  # the outermost x of the bow
    top: float
    bottom: float
    style: ArcStyle
    block: str


@dataclass(frozen=True)
class Fold:
    """Blocks of a long stage left out, drawn as "… n more identical blocks"."""

    x: float
    y: float
    width: float
    height: float
    stage: str
    blocks: int

    @property
    def text(self) -> str:
        return f"… {self.blocks} more identical block{'s' * (self.blocks != 1)}"


@dataclass(frozen=True)
class Label:
    """Free text; ``anchor`` is "start", "middle" or "end" at ``x`` (SVG's text-anchor), centred on ``y``."""

    x: float
    y: float
    text: str
    role: Role
    anchor: str = "middle"


@dataclass(frozen=True)
class Line:
    """A straight line: the flow arrow between boxes, or a legend sample."""

    x0: float
    y0: float
    x1: float
    y1: float
    style: ArcStyle = ArcStyle.IDENTITY
    arrow: bool = True  # an arrowhead at (x1, y1)


@dataclass(frozen=True)
class PaperFigure:
    """The whole figure, laid out: every primitive with its coordinates, in pixels."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    arcs: tuple[Arc, ...]
    folds: tuple[Fold, ...]
    labels: tuple[Label, ...]
    lines: tuple[Line, ...]
    name: str  # for file names: "resnet34", or "resnet34_with_plain_twin"

    def labels_of(self, role: Role) -> tuple[Label, ...]:
        return tuple(label for label in self.labels if label.role is role)


# ---- from the layer table to the paper's boxes --------------------------------------

_BOX_TYPES = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Linear"}


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


def _shape_text(shape: tuple[int, ...]) -> str:
    channels, height, width = shape
    return f"{height}×{width}×{channels}"


@dataclass(frozen=True)
class _Stage:
    """One stage's part of the column: its blocks in order, an int standing for folded blocks."""

    name: str
    items: tuple[tuple[BlockRow, tuple[LayerRow, ...]] | int, ...]
    out_shape: tuple[int, ...]
    fill: str

    @property
    def height(self) -> float:
        """Pixels from the stage's first box to the next stage's: boxes, folds, gaps and the shape label."""
        boxes = sum(len(item[1]) for item in self.items if not isinstance(item, int))
        folds = sum(1 for item in self.items if isinstance(item, int))
        return boxes * BOX_HEIGHT + folds * FOLD_HEIGHT + GAP * (boxes + folds - 1) + STAGE_GAP


def _stages(table: LayerTable, fold_after: int) -> list[_Stage]:
    """The column's stages with the boxes of every shown block; stages longer than ``fold_after`` fold."""
    boxed: dict[str, list[LayerRow]] = {}
    for row in table.rows:
        if row.type in _BOX_TYPES and not row.downsample:
            boxed.setdefault(row.block_name, []).append(row)
    stages = []
    residual = 0
    for stage in table.stages:
        blocks = folded([(b, tuple(boxed.get(b.name, ()))) for b in table.blocks if b.stage == stage.name],
                        fold_after, FOLD_HEAD)
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


def _place_column(stages: Sequence[_Stage], x: float, y: float, box_width: float, incoming: str,
                  drawing: _Drawing) -> float:
    """Draw consecutive stages top-down from (x, y), the trunk at ``x + SHAPE_MARGIN + box_width / 2``.

    ``incoming`` heads the column: the image's shape, or the shape a continued column takes
    in. Returns the y below the column's last label.
    """
    left = x + SHAPE_MARGIN
    trunk = left + box_width / 2
    drawing.labels.append(Label(trunk, y + INPUT_HEIGHT / 2 - 4, incoming, Role.INPUT))
    y += INPUT_HEIGHT
    previous_bottom: float | None = None
    for stage in stages:
        for item in stage.items:
            if isinstance(item, int):
                if previous_bottom is not None:
                    drawing.lines.append(Line(trunk, previous_bottom, trunk, y))
                drawing.folds.append(Fold(left, y, box_width, FOLD_HEIGHT, stage.name, item))
                y += FOLD_HEIGHT + GAP
                previous_bottom = y - GAP
                continue
            block, rows = item
            block_top = y
            for row in rows:
                if previous_bottom is not None:
                    drawing.lines.append(Line(trunk, previous_bottom, trunk, y))
                drawing.boxes.append(Box(left, y, box_width, BOX_HEIGHT, layer_text(row), row.name, block.name,
                                         stage.fill))
                y += BOX_HEIGHT + GAP
                previous_bottom = y - GAP
            if block.shortcut in {s.value for s in ArcStyle}:  # "none" (plain), "" (stem, head): no arc
                drawing.arcs.append(Arc(trunk, left + box_width + ARC_REACH, block_top - GAP / 2,
                                        previous_bottom + GAP / 2, ArcStyle(block.shortcut), block.name))
        y += STAGE_GAP - GAP
        if stage.name != "head":
            drawing.labels.append(Label(left - 10, y - STAGE_GAP / 2, _shape_text(stage.out_shape), Role.SHAPE,
                                        anchor="end"))
    return y


def _column_width(box_width: float) -> float:
    return SHAPE_MARGIN + box_width + ARC_REACH + 8


def _layout(tables: Sequence[LayerTable], fold_after: int, columns: int, name: str) -> PaperFigure:
    per_table = [_stages(t, fold_after) for t in tables]
    texts = [layer_text(row) for stages in per_table for s in stages for item in s.items
             if not isinstance(item, int) for row in item[1]]
    box_width = max(150.0, max(_text_width(t) for t in texts) + 24)
    drawing = _Drawing([], [], [], [], [])
    column_width = _column_width(box_width)
    panel_width = columns * column_width + (columns - 1) * COLUMN_SPACE
    bottom = 0.0
    for panel, (table, stages) in enumerate(zip(tables, per_table)):
        x0 = MARGIN + panel * (panel_width + PANEL_SPACE)
        title_x = x0 + (panel_width + SHAPE_MARGIN) / 2 if columns > 1 else x0 + SHAPE_MARGIN + box_width / 2
        drawing.labels.append(Label(title_x, TOP + TITLE_HEIGHT / 2, table.spec.name, Role.TITLE))
        runs = _split([s.height for s in stages], columns)
        for column, (a, b) in enumerate(runs):
            x = x0 + column * (column_width + COLUMN_SPACE)
            incoming = f"image, {_shape_text(table.rows[0].in_shape)}" if a == 0 else _shape_text(stages[a - 1].out_shape)
            end = _place_column(stages[a:b], x, TOP + TITLE_HEIGHT, box_width, incoming, drawing)
            bottom = max(bottom, end)
    styles = [s for s in ArcStyle if any(arc.style is s for arc in drawing.arcs)]
    y = bottom + LEGEND_ROW / 2
    for style in styles:
        drawing.lines.append(Line(MARGIN, y, MARGIN + 40, y, style, arrow=False))
        drawing.labels.append(Label(MARGIN + 50, y, style.legend, Role.LEGEND, anchor="start"))
        y += LEGEND_ROW
    legend_width = max((_text_width(s.legend, SMALL) + 60 for s in styles), default=0)
    width = MARGIN * 2 + max(len(tables) * panel_width + (len(tables) - 1) * PANEL_SPACE, legend_width)
    height = y - LEGEND_ROW + 16 + MARGIN if styles else bottom + MARGIN
    return PaperFigure(width, height, tuple(drawing.boxes), tuple(drawing.arcs), tuple(drawing.folds),
                       tuple(drawing.labels), tuple(drawing.lines), name)


def slide_scale(figure: PaperFigure) -> float:
    """How much the figure is magnified (above 1) or shrunk to fill a 16:9 slide (`SLIDE`)."""
    return min(SLIDE[0] / figure.width, SLIDE[1] / figure.height)


def paper_figure(table: LayerTable, *, plain_twin: bool = False, fold_after: int = FOLD_AFTER,
                 columns: int | None = 1) -> PaperFigure:
    """Figure 3 of the paper for ``table``'s model, with its plain twin on the left on request.

    Stages with more than ``fold_after`` blocks show their first two blocks, a fold and the
    last block. ``columns`` cuts each network's column between stages into that many
    columns side by side; ``None`` picks the count that shows the figure largest on a
    16:9 slide. The twin is the same spec without shortcuts (the paper's "plain" net; for a
    plain spec, the residual one), laid out to the left as in the paper.
    """
    if fold_after < FOLD_HEAD + 1:
        raise ValueError(_("fold_after must be at least {minimum} (the first {head} blocks and the last stay), "
                           "got {fold_after}.").format(minimum=FOLD_HEAD + 1, head=FOLD_HEAD, fold_after=fold_after))
    tables = [table]
    name = table.spec.name.replace(" ", "_")
    if plain_twin:
        plain, residual = degradation_models(table.spec).values()
        tables = [layer_table(plain, table.input_size), layer_table(residual, table.input_size)]
        name += "_with_plain_twin" if table.spec.shortcut is not Shortcut.NONE else "_with_residual_twin"
    stage_count = len(table.stages)
    if columns is None:
        options = [_layout(tables, fold_after, k, name) for k in range(1, min(stage_count, MAX_COLUMNS) + 1)]
        return max(options, key=slide_scale)  # max keeps the first (fewest columns) of equals
    if not 1 <= columns <= stage_count:
        raise ValueError(_("columns must be between 1 and {stages} (one per stage at most), got {columns}.").format(
            stages=stage_count, columns=columns))
    return _layout(tables, fold_after, columns, name)


# ---- drawing: SVG ---------------------------------------------------------------------

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
_LABEL_FONTS = {Role.TITLE: (TITLE_FONT, "bold", INK), Role.INPUT: (SMALL, "normal", MUTED),
                Role.SHAPE: (SMALL, "normal", MUTED), Role.LEGEND: (SMALL, "normal", INK)}


def _bezier(arc: Arc) -> tuple[tuple[float, float], ...]:
    """The arc's cubic Bézier control points; its bow reaches ``arc.reach`` at the middle."""
    control = arc.x + (arc.reach - arc.x) / 0.75  # a symmetric cubic reaches 3/4 of the way to its controls
    return (arc.x, arc.top), (control, arc.top), (control, arc.bottom), (arc.x + 4, arc.bottom)


def _arrowhead(tip: tuple[float, float], towards: tuple[float, float], size: float = 6) -> list[tuple[float, float]]:
    """A triangle pointing at ``tip``, arriving from the direction of ``towards``."""
    dx, dy = tip[0] - towards[0], tip[1] - towards[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    base = (tip[0] - ux * size, tip[1] - uy * size)
    return [tip, (base[0] - uy * size / 2, base[1] + ux * size / 2), (base[0] + uy * size / 2, base[1] - ux * size / 2)]


def _svg_text(x: float, y: float, text: str, size: int, weight: str = "normal", colour: str = INK,
              anchor: str = "middle") -> str:
    # A baseline 0.35 em below the centre: portable where dominant-baseline is not (slides, Inkscape).
    return (f'<text x="{x:.1f}" y="{y + size * 0.35:.1f}" font-size="{size}" font-weight="{weight}" '
            f'fill="{colour}" text-anchor="{anchor}">{escape(text)}</text>')


def _svg_points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def to_svg(figure: PaperFigure) -> str:
    """The figure as a standalone SVG document (vector: sharp on any slide)."""
    size = f'width="{figure.width:.0f}" height="{figure.height:.0f}" viewBox="0 0 {figure.width:.0f} {figure.height:.0f}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} font-family={quoteattr(FONT_FAMILY)}>',
        f"<title>{escape(figure.name)}: architecture in the style of He et al. 2016, Figure 3</title>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for arc in figure.arcs:
        (x0, y0), c1, c2, end = _bezier(arc)
        dash = f' stroke-dasharray="{",".join(map(str, arc.style.dashes))}"' if arc.style.dashes else ""
        out.append(f'<path d="M {x0:.1f} {y0:.1f} C {c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} {end[0]:.1f} '
                   f'{end[1]:.1f}" fill="none" stroke="{arc.style.colour}" stroke-width="1.6"{dash}/>')
        out.append(f'<polygon points="{_svg_points(_arrowhead(end, c2))}" fill="{arc.style.colour}"/>')
    for line in figure.lines:
        dash = f' stroke-dasharray="{",".join(map(str, line.style.dashes))}"' if line.style.dashes else ""
        colour = line.style.colour if not line.arrow else INK
        out.append(f'<line x1="{line.x0:.1f}" y1="{line.y0:.1f}" x2="{line.x1:.1f}" y2="{line.y1:.1f}" '
                   f'stroke="{colour}" stroke-width="1.4"{dash}/>')
        if line.arrow:
            out.append(f'<polygon points="{_svg_points(_arrowhead((line.x1, line.y1), (line.x0, line.y0), 5))}" '
                       f'fill="{INK}"/>')
    for box in figure.boxes:
        out.append(f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
                   f'rx="5" fill="{box.fill}" stroke="{INK}" stroke-width="1"/>')
        out.append(_svg_text(box.x + box.width / 2, box.y + box.height / 2, box.text, FONT))
    for fold in figure.folds:
        out.append(_svg_text(fold.x + fold.width / 2, fold.y + fold.height / 2, fold.text, SMALL, "normal", MUTED))
    for label in figure.labels:
        size, weight, colour = _LABEL_FONTS[label.role]
        out.append(_svg_text(label.x, label.y, label.text, size, weight, colour, label.anchor))
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- drawing: PNG (Pillow, from the same primitives) ------------------------------------

PNG_SCALE = 2  # twice the SVG's pixels: sharp on a projector


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False):
    """DejaVu Sans where it is installed, else Pillow's own scalable default font."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _cubic(points, steps: int = 48) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    out = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        out.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return out


def _dashed(points: Sequence[tuple[float, float]], dashes: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The "on" pieces of a polyline drawn with the on/off pattern ``dashes`` (the whole line if empty)."""
    if not dashes:
        return [list(points)]
    pieces: list[list[tuple[float, float]]] = []
    pattern = itertools.cycle(enumerate(dashes))
    index, left = next(pattern)
    current: list[tuple[float, float]] = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while length - done > left:
            done += left
            point = (x0 + (x1 - x0) * done / length, y0 + (y1 - y0) * done / length)
            if index % 2 == 0:
                pieces.append([*current, point])
            current = [point]
            index, left = next(pattern)
        left -= length - done
        current.append((x1, y1))
    if index % 2 == 0:
        pieces.append(current)
    return [p for p in pieces if len(p) > 1]


def to_png(figure: PaperFigure, scale: int = PNG_SCALE) -> bytes:
    """The figure as a PNG image, ``scale`` pixels per SVG pixel."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (math.ceil(figure.width * scale), math.ceil(figure.height * scale)), "white")
    draw = ImageDraw.Draw(image)

    def px(points):
        return [(x * scale, y * scale) for x, y in points]

    for arc in figure.arcs:
        curve = _bezier(arc)
        for piece in _dashed(px(_cubic(curve)), [d * scale for d in arc.style.dashes]):
            draw.line(piece, fill=arc.style.colour, width=round(1.6 * scale), joint="curve")
        draw.polygon(px(_arrowhead(curve[3], curve[2])), fill=arc.style.colour)
    for line in figure.lines:
        colour = line.style.colour if not line.arrow else INK
        ends = px([(line.x0, line.y0), (line.x1, line.y1)])
        for piece in _dashed(ends, [d * scale for d in line.style.dashes]):
            draw.line(piece, fill=colour, width=round(1.4 * scale))
        if line.arrow:
            draw.polygon(px(_arrowhead((line.x1, line.y1), (line.x0, line.y0), 5)), fill=INK)
    for box in figure.boxes:
        draw.rounded_rectangle(px([(box.x, box.y), (box.x + box.width, box.y + box.height)]), radius=5 * scale,
                               fill=box.fill, outline=INK, width=scale)
        draw.text(((box.x + box.width / 2) * scale, (box.y + box.height / 2) * scale), box.text, fill=INK,
                  font=_font(FONT * scale), anchor="mm")
    for fold in figure.folds:
        draw.text(((fold.x + fold.width / 2) * scale, (fold.y + fold.height / 2) * scale), fold.text, fill=MUTED,
                  font=_font(SMALL * scale), anchor="mm")
    anchors = {"start": "lm", "middle": "mm", "end": "rm"}
    for label in figure.labels:
        size, weight, colour = _LABEL_FONTS[label.role]
        draw.text((label.x * scale, label.y * scale), label.text, fill=colour, font=_font(size * scale, weight == "bold"),
                  anchor=anchors[label.anchor])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
