"""Per-stage parameters, MACs and activation memory of two or three models, as grouped bars."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.analysis.anatomy import LayerTable
from explorer.figures.layout import LEGEND_AT_FOOT, wrapped_title
from explorer.runtime.i18n import _

COLOURS = ("#3498db", "#e67e22", "#27ae60")  # A, B as `architecture.stage_bars` draws them, and C
TITLE_WIDTH = 20  # characters a subplot title wraps at, as `architecture.STAGE_BAR_TITLE_WIDTH`


def stage_bars_of(tables: Sequence[LayerTable]) -> go.Figure:
    """Each stage's params (M), MACs (G) and activation memory (MiB, fp32, one image) of every model, grouped."""
    titles = (_("Parameters (M)"), _("MACs, conv+linear (G)"), _("Activation memory (MiB, fp32, 1 image)"))
    figure = make_subplots(rows=1, cols=3, subplot_titles=[wrapped_title(t, TITLE_WIDTH) for t in titles])
    figure.update_annotations(font={"size": 12})
    names = list(dict.fromkeys(s.name for t in tables for s in t.stages))
    names.sort(key=lambda n: (n != "stem", n == "head"))
    metrics = (lambda s: s.params / 1e6, lambda s: s.macs / 1e9, lambda s: s.activation_bytes / 2**20)
    for col, metric in enumerate(metrics, start=1):
        for label, table, colour in zip("ABC", tables, COLOURS):
            stages = {s.name: s for s in table.stages}
            name = f"{label}: {table.spec.name}"
            figure.add_trace(go.Bar(x=names, y=[metric(stages[n]) if n in stages else 0 for n in names], name=name,
                                    marker_color=colour, showlegend=col == 1, legendgroup=name), row=1, col=col)
    figure.update_layout(barmode="group", height=400, margin={"l": 10, "r": 10, "t": 70, "b": 40},
                         legend=LEGEND_AT_FOOT)
    return figure
