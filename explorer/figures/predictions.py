"""A prediction's top-k probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.figures.layout import plotly_text, wrapped_title
from explorer.model.sources import UNTRAINED_NOTE
from explorer.runtime.i18n import _

BAR_COLOUR = "#2980b9"
# An untrained network's bars: grey, so that its confident-looking "class 713" does not read as a result.
UNTRAINED_BAR_COLOUR = "#bdbdbd"
UNTRAINED_MARK = "untrained"  # the watermark annotation's name, for whoever looks for it (the tests)


def topk_bars(labels: Sequence[str], probabilities: Sequence[float], title: str, untrained: bool = False) -> go.Figure:
    """Top-k probabilities as horizontal bars, best on top.

    ``labels`` (class names, perhaps from a checkpoint or a names file) and ``title`` are drawn
    as plain text (`plotly_text`), never as plotly's HTML. ``untrained`` (random weights,
    `ModelSource.untrained`): the bars are grey, the title's second line says the classes mean
    nothing, and a large grey "untrained" lies across the chart itself, where no screenshot or
    glance can miss it."""
    shown = [plotly_text(label) for label in labels]
    figure = go.Figure(go.Bar(x=[p * 100 for p in probabilities][::-1], y=shown[::-1], orientation="h",
                              marker_color=UNTRAINED_BAR_COLOUR if untrained else BAR_COLOUR,
                              text=[f"{p:.1%}" for p in probabilities][::-1], textposition="auto"))
    heading = plotly_text(title)
    if untrained:
        heading += "<br><span style='font-size:11px;color:#757575'>" + wrapped_title(_(UNTRAINED_NOTE), 56) + "</span>"
        figure.add_annotation(name=UNTRAINED_MARK, text=_("untrained"), xref="paper", yref="paper", x=0.5, y=0.5,
                              showarrow=False, textangle=-18, font={"size": 44, "color": "rgba(117, 117, 117, 0.35)"})
    lines = heading.count("<br>") + 1
    figure.update_layout(height=80 + 34 * len(labels) + 16 * (lines - 1),
                         margin={"l": 10, "r": 10, "t": 24 + 16 * lines, "b": 10},
                         xaxis={"title": _("probability (%)"), "range": [0, 100]},
                         title={"text": heading, "font": {"size": 13}})
    return figure
