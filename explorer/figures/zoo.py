"""Compare: what the cost buys, every torchvision ResNet's published accuracy against its cost."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.analysis.zoo import PublishedWeights, Recipe
from explorer.figures.layout import LEGEND_AT_FOOT, log_axis, wrapped_title
from explorer.runtime.i18n import N_, _

class ZooAxis(str, enum.Enum):
    """The cost on the x-axis; the value is what the page's radio keeps in its state."""

    GMACS = "GMACs"
    PARAMS = "params"

    @property
    def label(self) -> str:
        """The choice in the reader's language ("params" is a word, "GMACs" a unit)."""
        return _(_AXIS_TEXTS[self][0])

    @property
    def axis_title(self) -> str:
        """The axis title, in the reader's language."""
        return _(_AXIS_TEXTS[self][1])

    def cost(self, entry) -> float:
        """An entry's (`zoo.PublishedWeights`) cost on this axis: GMACs, or millions of parameters."""
        return entry.gmacs if self is ZooAxis.GMACS else entry.params / 1e6

    def hover(self, entry) -> str:
        """"1.814 GMACs", "11.7 M params", in the reader's language."""
        return _(_AXIS_TEXTS[self][2]).format(value=self.cost(entry))


_AXIS_TEXTS = {  # choice, axis title, hover format
    ZooAxis.GMACS: (N_("GMACs"), N_("GMACs per 224×224 image (torchvision's “GFLOPS”, log scale)"),
                    N_("{value:.3f} GMACs")),
    ZooAxis.PARAMS: (N_("params"), N_("parameters (millions, log scale)"), N_("{value:.1f} M params")),
}
RECIPE_MARKERS = {  # recipe → (marker, colour of the other models' points, legend shown through _())
    Recipe.ORIGINAL: ("circle", "#7f8c8d", N_("other models, original recipe")),
    Recipe.NEW: ("diamond", "#16a085", N_("other models, torchvision's new recipe")),
}
HIGHLIGHT_COLOURS = ("#2980b9", "#e67e22")  # A, B
POINT_SIZES = (9, 16)  # marker diameters in px: other models, the two chosen
LABEL_FONT = 9  # px: every point carries its model's name
# The plotting area in the narrowest column the chart is drawn in (a 1024 px window with the
# sidebar open leaves the main column 520 px): labels placed apart here stay apart in a wider one.
PLOT_AREA = (440, 330)  # px, width and height
CHAR_WIDTH = 0.62  # a Latin character's average width, in font sizes
LABEL_POSITIONS = ("middle right", "middle left", "top center", "bottom center", "top right", "bottom right",
                   "top left", "bottom left")


def label_box(x: float, y: float, radius: float, text: str, position: str) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1), in px with y upwards, that plotly draws ``text`` in beside a marker
    of ``radius`` at (x, y) for a ``textposition``."""
    width, height = len(text) * LABEL_FONT * CHAR_WIDTH, LABEL_FONT * 1.25
    vertical, horizontal = position.split()
    gap = radius + 2
    x0 = {"right": x + gap * (0.7 if vertical != "middle" else 1), "left": x - gap * (0.7 if vertical != "middle" else 1)
          - width, "center": x - width / 2}[horizontal]
    y0 = {"top": y + gap * (0.7 if horizontal != "center" else 1), "middle": y - height / 2,
          "bottom": y - gap * (0.7 if horizontal != "center" else 1) - height}[vertical]
    return x0, y0, x0 + width, y0 + height


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The area two boxes (x0, y0, x1, y1) share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(points: Sequence[tuple[float, float, float, str]], area: tuple[float, float] = PLOT_AREA,
                 rounds: int = 20) -> list[str]:
    """A plotly ``textposition`` for each point (x px, y px, marker radius px, text) such that its
    label covers no other label, no marker and stays inside ``area``, where that can be found.

    For a few orders of the points (as given, by x, by y, each way): greedily the first of
    `LABEL_POSITIONS` that covers least, then up to ``rounds`` passes that move each label still
    covering something to where it covers least; the arrangement that covers least wins.
    """
    markers = [(x - r, y - r, x + r, y + r) for x, y, r, _text in points]

    def box_of(index: int, position: str) -> tuple[float, float, float, float]:
        x, y, radius, text = points[index]
        return label_box(x, y, radius, text, position)

    def covered(index: int, position: str, boxes: dict[int, tuple[float, ...]]) -> float:
        box = box_of(index, position)
        outside = max(0.0, -box[0]) + max(0.0, box[2] - area[0]) + max(0.0, -box[1]) + max(0.0, box[3] - area[1])
        return (sum(overlap(box, other) for j, other in boxes.items() if j != index)
                + sum(overlap(box, m) for j, m in enumerate(markers) if j != index)
                + outside * (box[3] - box[1]) * 2)  # a label cut at the edge is worse than one that touches

    def arrangement(order: Sequence[int]) -> tuple[float, dict[int, str]]:
        positions: dict[int, str] = {}
        boxes: dict[int, tuple[float, ...]] = {}
        for index in order:
            positions[index] = min(LABEL_POSITIONS, key=lambda position: covered(index, position, boxes))
            boxes[index] = box_of(index, positions[index])
        for _round in range(rounds):
            moved = False
            for index in order:
                best = min(LABEL_POSITIONS, key=lambda position: covered(index, position, boxes))
                if covered(index, best, boxes) < covered(index, positions[index], boxes):
                    positions[index], boxes[index], moved = best, box_of(index, best), True
            if not moved:
                break
        return sum(covered(index, positions[index], boxes) for index in order), positions

    given = list(range(len(points)))
    orders = [given] + [sorted(given, key=lambda i, axis=axis, sign=sign: (sign * points[i][axis], i))
                        for axis in (0, 1) for sign in (1, -1)]
    _total, positions = min((arrangement(order) for order in orders), key=lambda result: result[0])
    return [positions[index] for index in given]


def _in_pixels(value: float, axis_range: Sequence[float], pixels: float, log: bool) -> float:
    low, high = axis_range
    position = math.log10(value) if log else value
    return (position - low) / (high - low) * pixels


def accuracy_vs_cost(entries: Sequence[PublishedWeights], highlighted: dict[str, str],
                     x: ZooAxis = ZooAxis.GMACS) -> go.Figure:
    """Published ImageNet top-1 against cost, one point per weights version, each named by its model.

    The marker says the training recipe (`zoo.Recipe`, from the weights' meta: resnext101_64x4d's
    V1 has the new recipe). ``highlighted`` maps a model name to its label ("A: resnet18"): those
    models' points are drawn large, in a trace of their own. A dotted line joins a model's points
    of the two recipes. Labels are placed by `place_labels` so that they do not cover each other.
    """
    value = x.cost
    figure = go.Figure()
    by_model: dict[str, list[PublishedWeights]] = {}
    for entry in entries:
        by_model.setdefault(entry.model, []).append(entry)
    line_x, line_y = [], []
    for versions in by_model.values():
        if len(versions) > 1:
            line_x += [value(v) for v in versions] + [None]
            line_y += [v.acc1 for v in versions] + [None]
    figure.add_trace(go.Scatter(x=line_x, y=line_y, mode="lines", line={"color": "#bdc3c7", "dash": "dot"},
                                hoverinfo="skip", name=_("same network, original → new recipe")))

    x_axis = log_axis([value(e) for e in entries])
    accuracies = [e.acc1 for e in entries]
    y_range = [math.floor(min(accuracies)) - 1, math.ceil(max(accuracies)) + 1]
    low, high = x_axis.get("range") or [math.log10(min(map(value, entries))), math.log10(max(map(value, entries)))]
    x_range = x_axis["range"] = [low, high + 0.1 * (high - low)]  # room on the right for the last points' names
    others = [e for e in entries if e.model not in highlighted]
    chosen = [e for e in entries if e.model in highlighted]
    ordered = chosen + sorted(others, key=value)  # the two chosen models' labels are placed first
    positions = dict(zip((e.label for e in ordered), place_labels([
        (_in_pixels(value(e), x_range, PLOT_AREA[0], True), _in_pixels(e.acc1, y_range, PLOT_AREA[1], False),
         POINT_SIZES[e.model in highlighted] / 2, e.model) for e in ordered])))

    def points(members: Sequence[PublishedWeights], name: str, colour: str, size: int, bold: bool) -> go.Scatter:
        return go.Scatter(
            x=[value(e) for e in members], y=[e.acc1 for e in members], name=name, mode="markers+text",
            text=[f"<b>{e.model}</b>" if bold else e.model for e in members],
            textposition=[positions[e.label] for e in members],
            textfont={"size": LABEL_FONT, "color": "#2c3e50"},
            marker={"symbol": [RECIPE_MARKERS[e.recipe][0] for e in members], "color": colour, "size": size,
                    "line": {"color": "white", "width": 1}},
            hovertext=[f"<b>{e.model}</b> {e.weights} ({e.recipe.label})<br>acc@1 {e.acc1:g}% · acc@5 {e.acc5:g}%"
                       f"<br>{x.hover(e)}" for e in members], hoverinfo="text")

    for recipe, (_marker, colour, legend) in RECIPE_MARKERS.items():
        members = [e for e in others if e.recipe is recipe]
        if members:
            figure.add_trace(points(members, _(legend), colour, POINT_SIZES[0], False))
    for (model, label), colour in zip(highlighted.items(), HIGHLIGHT_COLOURS):
        members = by_model.get(model, [])
        if members:
            figure.add_trace(points(members, label, colour, POINT_SIZES[1], True))
    figure.update_xaxes(title_text=x.axis_title, **x_axis, gridcolor="#ecf0f1")
    figure.update_yaxes(title_text=_("ImageNet-1K top-1 accuracy (%)"), range=y_range, gridcolor="#ecf0f1")
    figure.update_layout(height=580, margin={"l": 10, "r": 10, "t": 90, "b": 40}, plot_bgcolor="white",
                         legend=LEGEND_AT_FOOT, hoverlabel={"align": "left"},
                         title={"text": wrapped_title(_("Every torchvision ResNet, ResNeXt and Wide ResNet: top-1 "
                                                        "against {cost}").format(cost=x.label))
                                        + "<br><sup>" + wrapped_title(_(
                                            "hover a point for its model, weights and accuracy; circles: original "
                                            "recipe, diamonds: torchvision's new recipe"), 80).replace(
                                            "<br>", "</sup><br><sup>") + "</sup>",
                                "font": {"size": 14}})
    return figure
