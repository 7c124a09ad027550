"""Lines over blocks or layers, and training curves: the zero_init_residual and degradation studies."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.figures.layout import LEGEND_AT_FOOT, log_axis, wrapped_title
from explorer.runtime.i18n import _

LINE_COLOURS = ("#2980b9", "#e67e22", "#27ae60", "#c0392b", "#8e44ad", "#16a085")


def series_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour for each series name, in order: pass the same map to every chart that draws some of
    these series, so one network keeps one colour across a page's charts."""
    return {name: LINE_COLOURS[index % len(LINE_COLOURS)] for index, name in enumerate(dict.fromkeys(names))}


def lines(x: Sequence[str], series: dict[str, Sequence[float]], title: str, y_title: str, log: bool = False,
          colours: dict[str, str] | None = None, title_width: int = 60,
          dashes: dict[str, str] | None = None) -> go.Figure:
    """One line per series over named points (blocks or layers); zeros are not drawn on a log axis.

    ``colours`` (`series_colours`) gives a series the colour it has in the page's other charts;
    by default the series take `LINE_COLOURS` in order; ``dashes`` (plotly's dash names) tells apart
    two series of one colour (one network's outputs and branches). The title wraps at ``title_width``
    characters (`wrapped_title`): about 40 for a chart in half a page 1024 px wide.
    """
    colours = colours or series_colours(list(series))
    figure = go.Figure()
    for name, values in series.items():
        colour = colours[name]
        y = [v if not (log and v <= 0) else None for v in values]
        line = {"color": colour, "dash": (dashes or {}).get(name, "solid")}
        figure.add_trace(go.Scatter(x=list(x), y=y, mode="lines+markers", name=name, line=line,
                                    marker={"size": 5}, connectgaps=False))
    figure.update_yaxes(title_text=y_title)
    if log:
        values = [v for values in series.values() for v in values]
        figure.update_yaxes(**log_axis(values))
        if any(v <= 0 for v in values):  # a series can vanish: say why where it is drawn
            figure.add_annotation(text=_("values of exactly 0 are not drawn on a log axis"), xref="paper",
                                  yref="paper", x=1, y=1, xanchor="right", yanchor="bottom", showarrow=False,
                                  font={"size": 11, "color": "#7f8c8d"})
    figure.update_xaxes(tickangle=-45)
    figure.update_layout(height=440, margin={"l": 10, "r": 10, "t": 70, "b": 40}, hovermode="x unified",
                         legend=LEGEND_AT_FOOT, title={"text": wrapped_title(title, title_width), "font": {"size": 14}},
                         plot_bgcolor="white")
    return figure


def training_curves(histories: dict[str, Sequence], title: str, colours: dict[str, str] | None = None) -> go.Figure:
    """Loss and batch accuracy per step for each trained model (``colours`` as in `lines`)."""
    colours = colours or series_colours(list(histories))
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("training loss"), _("batch accuracy")))
    for name, history in histories.items():
        colour = colours[name]
        steps = [s.step for s in history]
        figure.add_trace(go.Scatter(x=steps, y=[s.loss for s in history], name=name, line={"color": colour},
                                    legendgroup=name), row=1, col=1)
        figure.add_trace(go.Scatter(x=steps, y=[s.accuracy for s in history], name=name, line={"color": colour},
                                    legendgroup=name, showlegend=False), row=1, col=2)
    figure.update_xaxes(title_text=_("step"))
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    figure.update_layout(height=400, margin={"l": 10, "r": 10, "t": 60, "b": 40},
                         legend=LEGEND_AT_FOOT, title={"text": wrapped_title(title), "font": {"size": 14}})
    return figure
