"""A prediction's top-k probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.runtime.i18n import _


def topk_bars(labels: Sequence[str], probabilities: Sequence[float], title: str) -> go.Figure:
    """Top-k probabilities as horizontal bars, best on top."""
    figure = go.Figure(go.Bar(x=[p * 100 for p in probabilities][::-1], y=list(labels)[::-1], orientation="h",
                              marker_color="#2980b9", text=[f"{p:.1%}" for p in probabilities][::-1],
                              textposition="auto"))
    figure.update_layout(height=80 + 34 * len(labels), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis={"title": _("probability (%)"), "range": [0, 100]},
                         title={"text": title, "font": {"size": 13}})
    return figure
