"""Compare: what the cost buys, every torchvision ResNet's published accuracy against its cost."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import plotly.graph_objects as go

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
ZOO_MARKERS = {  # weights version → (marker, colour of the other models' points, legend shown through _())
    "IMAGENET1K_V1": ("circle", "#7f8c8d", N_("other models, V1 weights")),
    "IMAGENET1K_V2": ("diamond", "#16a085", N_("other models, V2 weights")),
}


def _zoo_marker(weights: str) -> tuple[str, str, str]:
    """(marker, colour, legend in the reader's language) of the other models' points of a weights version."""
    if weights in ZOO_MARKERS:
        marker, colour, legend = ZOO_MARKERS[weights]
        return marker, colour, _(legend)
    return "square", "#95a5a6", _("other models, {weights}").format(weights=weights)


def accuracy_vs_cost(entries: Sequence, highlighted: dict[str, str], x: ZooAxis = ZooAxis.GMACS) -> go.Figure:
    """Published ImageNet top-1 against cost, one point per weights version (`zoo.PublishedWeights`).

    ``highlighted`` maps a model name to its label ("A: resnet18"): those models' points are
    drawn large, in a trace of their own. A dotted line joins a model's V1 and V2 points.
    """
    value = x.cost
    figure = go.Figure()
    by_model: dict[str, list] = {}
    for entry in entries:
        by_model.setdefault(entry.model, []).append(entry)
    line_x, line_y = [], []
    for versions in by_model.values():
        if len(versions) > 1:
            line_x += [value(v) for v in versions] + [None]
            line_y += [v.acc1 for v in versions] + [None]
    figure.add_trace(go.Scatter(x=line_x, y=line_y, mode="lines", line={"color": "#bdc3c7", "dash": "dot"},
                                hoverinfo="skip", name=_("same network, newer recipe (V1 → V2)")))

    def points(members: Sequence, name: str, colour: str, size: int, labelled: bool) -> go.Scatter:
        return go.Scatter(
            x=[value(e) for e in members], y=[e.acc1 for e in members], name=name,
            mode="markers+text" if labelled else "markers", textposition="middle right",
            text=[e.weights.removeprefix("IMAGENET1K_") for e in members] if labelled else None,
            marker={"symbol": [_zoo_marker(e.weights)[0] for e in members], "color": colour, "size": size,
                    "line": {"color": "white", "width": 1}},
            hovertext=[f"<b>{e.model}</b> {e.weights}<br>acc@1 {e.acc1:g}% · acc@5 {e.acc5:g}%<br>"
                       f"{x.hover(e)}" for e in members], hoverinfo="text")

    others = [e for e in entries if e.model not in highlighted]
    for weights in dict.fromkeys(e.weights for e in others):
        _marker, colour, legend = _zoo_marker(weights)
        figure.add_trace(points([e for e in others if e.weights == weights], legend, colour, 9, False))
    for (model, label), colour in zip(highlighted.items(), ("#2980b9", "#e67e22")):
        members = by_model.get(model, [])
        if members:
            figure.add_trace(points(members, label, colour, 16, True))
    figure.update_xaxes(title_text=x.axis_title, **log_axis([value(e) for e in entries]), gridcolor="#ecf0f1")
    figure.update_yaxes(title_text=_("ImageNet-1K top-1 accuracy (%)"), gridcolor="#ecf0f1")
    figure.update_layout(height=500, margin={"l": 10, "r": 10, "t": 70, "b": 40}, plot_bgcolor="white",
                         legend=LEGEND_AT_FOOT, hoverlabel={"align": "left"},
                         title={"text": wrapped_title(_("Every torchvision ResNet, ResNeXt and Wide ResNet: top-1 "
                                                        "against {cost}").format(cost=x.label))
                                        + "<br><sup>" + _("hover a point for its model, weights and accuracy")
                                        + "</sup>",
                                "font": {"size": 14}})
    return figure
