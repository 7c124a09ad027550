"""A prediction's top-k probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.figures.layout import plotly_text
from explorer.runtime.i18n import _


def topk_bars(labels: Sequence[str], probabilities: Sequence[float], title: str) -> go.Figure:
    """Top-k probabilities as horizontal bars, best on top.

    ``labels`` (class names, perhaps from a checkpoint or a names file) and ``title`` are drawn
    as plain text (`plotly_text`), never as plotly's HTML."""
    shown = [plotly_text(label) for label in labels]
    figure = go.Figure(go.Bar(x=[p * 100 for p in probabilities][::-1], y=shown[::-1], orientation="h",
                              marker_color="#2980b9", text=[f"{p:.1%}" for p in probabilities][::-1],
                              textposition="auto"))
    figure.update_layout(height=80 + 34 * len(labels), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis={"title": _("probability (%)"), "range": [0, 100]},
                         title={"text": plotly_text(title), "font": {"size": 13}})
    return figure
