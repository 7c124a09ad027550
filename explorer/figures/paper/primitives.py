"""The paper figure's primitives: boxes, arcs, folds, labels and lines, with coordinates in pixels.

Pure data, drawn alike by the SVG writer and the PNG rasteriser; a shortcut's colour and line
come from `SHORTCUT_STYLES`, as in the interactive diagram.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from explorer.analysis.shortcuts import ShortcutKind

FONT, SMALL, TITLE_FONT = 13, 12, 15
INK = "#1f2d3d"
MUTED = "#55606e"
GATE_INK, GATE_FILL = "#a04000", "#fff4e6"  # a gate's side branch: its line, label and boxes
# On/off lengths in pixels of each of `ShortcutStyle.dash`'s named lines; empty: solid.
DASHES = {"solid": (), "dash": (7, 4), "dashdot": (9, 3, 2, 3), "dot": (2, 3)}
PANEL_DASHES = (4, 3)  # a gate branch's frame


class Role(enum.Enum):
    """What a label says, which sets its font."""

    TITLE = "title"  # the network's name over its column
    INPUT = "input"  # what enters a column: the image, or the map a continued column takes in
    SHAPE = "shape"  # a stage's output shape, left of the column where the stage ends
    LEGEND = "legend"
    GATE = "gate"  # a gate branch's name over its boxes: "SE, r=16"


LABEL_FONTS = {Role.TITLE: (TITLE_FONT, "bold", INK), Role.INPUT: (SMALL, "normal", MUTED),
               Role.SHAPE: (SMALL, "normal", MUTED), Role.LEGEND: (SMALL, "normal", INK),
               Role.GATE: (SMALL, "bold", GATE_INK)}


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
    gate: bool = False  # a box of a gate's side branch

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
    kind: ShortcutKind  # a drawn kind (it has a `ShortcutKind.style`)
    block: str

    @property
    def colour(self) -> str:
        return self.kind.style.colour

    @property
    def dashes(self) -> tuple[int, ...]:
        """On/off lengths in pixels; empty for a solid line."""
        return DASHES[self.kind.style.dash]

    @property
    def curve(self) -> tuple[tuple[float, float], ...]:
        """The arc's cubic Bézier control points; its bow reaches ``reach`` at the middle."""
        control = self.x + (self.reach - self.x) / 0.75  # a symmetric cubic reaches 3/4 of the way to its controls
        return (self.x, self.top), (control, self.top), (control, self.bottom), (self.x + 4, self.bottom)


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
class Panel:
    """The dashed frame around a gate's side branch (its boxes and its name)."""

    x: float
    y: float
    width: float
    height: float
    block: str


@dataclass(frozen=True)
class Node:
    """Where a gate's branch rejoins the trunk: "×" multiplies each channel, "Σ" adds weighted groups."""

    x: float  # centre
    y: float
    symbol: str
    block: str
    radius: float = 9.0


@dataclass(frozen=True)
class Line:
    """A straight line: the flow arrow between boxes, or a legend sample of a shortcut kind."""

    x0: float
    y0: float
    x1: float
    y1: float
    kind: ShortcutKind | None = None  # the legend sample's kind; None: the flow arrow
    gate: bool = False  # a piece of a gate's side branch, drawn in `GATE_INK`
    head: bool = True  # a flow line ends in an arrowhead unless it only turns a corner

    @property
    def arrow(self) -> bool:
        """An arrowhead at (x1, y1): the flow arrow has one, a legend sample none."""
        return self.kind is None and self.head

    @property
    def colour(self) -> str:
        if self.gate:
            return GATE_INK
        return INK if self.kind is None else self.kind.style.colour

    @property
    def dashes(self) -> tuple[int, ...]:
        return () if self.kind is None else DASHES[self.kind.style.dash]


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
    panels: tuple[Panel, ...] = ()  # gate branches' frames
    nodes: tuple[Node, ...] = ()  # where gate branches rejoin the trunk

    def labels_of(self, role: Role) -> tuple[Label, ...]:
        return tuple(label for label in self.labels if label.role is role)


def arrowhead(tip: tuple[float, float], towards: tuple[float, float], size: float = 6) -> list[tuple[float, float]]:
    """A triangle pointing at ``tip``, arriving from the direction of ``towards``."""
    dx, dy = tip[0] - towards[0], tip[1] - towards[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    base = (tip[0] - ux * size, tip[1] - uy * size)
    return [tip, (base[0] - uy * size / 2, base[1] + ux * size / 2), (base[0] + uy * size / 2, base[1] - ux * size / 2)]
