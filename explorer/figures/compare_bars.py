"""Per-stage parameters, MACs and activation memory of two or three models, as grouped bars."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.analysis.anatomy import LayerTable
from explorer.analysis.compare import matched_stage_names
from explorer.figures.layout import LEGEND_AT_FOOT, wrapped_title
from explorer.runtime.i18n import _

COLOURS = ("#3498db", "#e67e22", "#27ae60")  # A, B, C
# Characters per line of a subplot's title: three titles fit side by side in a 520 px column
# (a 1024 px window with the sidebar open).
TITLE_WIDTH = 20

# One model's bars: its legend name, its colour, and (params, MACs, activation bytes) per stage.
Series = tuple[str, str, Sequence[tuple[int, int, int]]]


def stage_bars_figure(stages: Sequence[str], series: Sequence[Series]) -> go.Figure:
    """Each stage's params (M), MACs (G) and activation memory (MiB, fp32, one image) of every model, as
    grouped bars in three subplots; the subplot titles wrap at `TITLE_WIDTH` characters in a small font."""
    titles = (_("Parameters (M)"), _("MACs, conv+linear (G)"), _("Activation memory (MiB, fp32, 1 image)"))
    figure = make_subplots(rows=1, cols=3, subplot_titles=[wrapped_title(t, TITLE_WIDTH) for t in titles])
    figure.update_annotations(font={"size": 12})  # the subplot titles: plotly draws them at 16 px
    scales = (1e6, 1e9, 2**20)
    for col, scale in enumerate(scales, start=1):
        for name, colour, values in series:
            figure.add_trace(go.Bar(x=list(stages), y=[v[col - 1] / scale for v in values], name=name,
                                    marker_color=colour, showlegend=col == 1, legendgroup=name), row=1, col=col)
    figure.update_layout(barmode="group", height=400, margin={"l": 10, "r": 10, "t": 70, "b": 40},
                         legend=LEGEND_AT_FOOT)
    return figure


def stage_bars_of(tables: Sequence[LayerTable]) -> go.Figure:
    """`stage_bars_figure` of two or three models ("A: resnet50" …), their stages matched by name."""
    names = matched_stage_names(tables)
    series = []
    for label, table, colour in zip("ABC", tables, COLOURS):
        stages = {s.name: s for s in table.stages}
        values = [(stages[n].params, stages[n].macs, stages[n].activation_bytes) if n in stages else (0, 0, 0)
                  for n in names]
        series.append((f"{label}: {table.spec.name}", colour, values))
    return stage_bars_figure(names, series)
