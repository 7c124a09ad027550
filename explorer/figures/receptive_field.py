"""Receptive-field sizes per stage: the theoretical box and window, and the effective field."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.analysis.receptive_field import ReceptiveField
from explorer.runtime.i18n import _


def receptive_field_sizes(fields: Sequence[ReceptiveField], title: str) -> go.Figure:
    """Theoretical and effective receptive field of each stage's centre position, in input pixels."""
    stages = [f.stage for f in fields]
    figure = go.Figure([
        go.Bar(x=stages, y=[f.theoretical_size for f in fields], name=_("theoretical box (inside the image)"),
               marker_color="#5dade2", text=[f.theoretical_size for f in fields], textposition="outside"),
        go.Bar(x=stages, y=[f.effective_size for f in fields], name=_("effective (95% of the gradient)"),
               marker_color="#e74c3c", text=[f.effective_size for f in fields], textposition="outside"),
        go.Scatter(x=stages, y=[f.window_size for f in fields], name=_("theoretical window (layer table's RF)"),
                   mode="lines+markers", line={"color": "#1b4f72", "dash": "dot"}, marker={"size": 7}),
    ])
    figure.update_layout(barmode="group", height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         title={"text": title, "font": {"size": 14}}, legend={"orientation": "h", "y": -0.15},
                         yaxis={"title": _("side (input pixels)"), "rangemode": "tozero"}, plot_bgcolor="white")
    return figure
