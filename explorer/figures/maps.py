"""Feature maps as heatmaps: a channel mosaic, one channel, maps side by side, statistics across depth."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.analysis.activations import ColourScale
from explorer.runtime.i18n import _


def mosaic(maps: np.ndarray, columns: int) -> np.ndarray:
    """Tile (N, H, W) maps into one image, ``columns`` maps a row, with 1-pixel NaN gaps."""
    count, height, width = maps.shape
    rows = math.ceil(count / columns)
    tiled = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan, dtype=np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        tiled[r * (height + 1): r * (height + 1) + height, c * (width + 1): c * (width + 1) + width] = maps[index]
    return tiled


def scaled_maps(maps: np.ndarray, scale: ColourScale,
                value_range: tuple[float, float]) -> tuple[np.ndarray, float, float]:
    """Maps and the (zmin, zmax) to draw them with, for a colour-scale mode.

    ``value_range`` is the layer's range per layer and all layers' for the global scale; per
    channel, each map is stretched to [0, 1].
    """
    if scale is ColourScale.PER_CHANNEL:
        low = maps.min(axis=(1, 2), keepdims=True)
        high = maps.max(axis=(1, 2), keepdims=True)
        return (maps - low) / np.where(high > low, high - low, 1.0), 0.0, 1.0
    low, high = value_range
    return maps, low, high if high > low else low + 1.0


def channel_grid(maps: np.ndarray, channels: Sequence[int], scale: ColourScale, value_range: tuple[float, float],
                 title: str) -> go.Figure:
    """A mosaic of the chosen channels (maps: (C, H, W) float32), colour scale stated in the title."""
    chosen = maps[list(channels)]
    values, zmin, zmax = scaled_maps(chosen, scale, value_range)
    columns = min(8, max(1, len(channels)))
    tiled = mosaic(values, columns)
    height, width = chosen.shape[1:]
    figure = go.Figure(go.Heatmap(z=tiled[::-1], zmin=zmin, zmax=zmax, colorscale="Viridis", hoverongaps=False,
                                  colorbar={"title": "0–1" if scale is ColourScale.PER_CHANNEL else _("value")},
                                  hovertemplate=_("value") + " %{z:.3f}<extra></extra>"))
    # One list for the layout: plotly's add_annotation costs ~5 ms each, 64 labels a third of a second.
    labels = []
    for index, channel in enumerate(channels):
        r, c = divmod(index, columns)
        labels.append({"x": c * (width + 1), "y": tiled.shape[0] - r * (height + 1) - 1, "text": f"c{channel}",
                       "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 9, "color": "white"},
                       "bgcolor": "rgba(0,0,0,0.45)"})
    rows = math.ceil(len(channels) / columns)
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(annotations=labels, height=int(110 + rows * min(170, 900 / columns)),
                         margin={"l": 0, "r": 0, "t": 50, "b": 0},
                         title={"text": title + "<br><sup>" + _("colour scale: {scale} — {meaning}").format(
                             scale=scale.label, meaning=scale.meaning) + "</sup>", "font": {"size": 14}})
    return figure


def channel_zoom(single: np.ndarray, title: str) -> go.Figure:
    """One channel (H, W) with its real value range on the colour bar."""
    figure = go.Figure(go.Heatmap(z=single[::-1], colorscale="Viridis", colorbar={"title": _("value")},
                                  hovertemplate="x %{x}, y %{y}: %{z:.4f}<extra></extra>"))
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(height=380, margin={"l": 0, "r": 0, "t": 50, "b": 0},
                         title={"text": title + "<br><sup>" + _("range {low:.3f} … {high:.3f}").format(
                             low=single.min(), high=single.max()) + "</sup>", "font": {"size": 13}})
    return figure


def side_by_side(maps: Sequence[np.ndarray], titles: Sequence[str], value_range: tuple[float, float], title: str) -> go.Figure:
    """Maps (each (H, W)) in one row, with one colour range and one colour bar so they compare.

    One figure, not one per map, so the browser draws them in one pass on every layer click;
    its axes are laid out here (make_subplots would add ~10 ms per figure).
    """
    gap = 0.03
    width = (1 - gap * (len(maps) - 1)) / len(maps)
    layout: dict = {"annotations": []}
    traces = []
    for index, (single, name) in enumerate(zip(maps, titles)):
        x, y, left = f"x{index + 1}", f"y{index + 1}", index * (width + gap)
        traces.append(go.Heatmap(z=single[::-1], coloraxis="coloraxis", xaxis=x, yaxis=y, name=name,
                                 hovertemplate="x %{x}, y %{y}: %{z:.4f}<extra>%{fullData.name}</extra>"))
        layout[f"xaxis{index + 1}"] = {"domain": [left, left + width], "anchor": y, "visible": False, "constrain": "domain"}
        layout[f"yaxis{index + 1}"] = {"anchor": x, "visible": False, "scaleanchor": x}
        layout["annotations"].append({"text": name, "x": left + width / 2, "y": 1, "xref": "paper", "yref": "paper",
                                      "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    low, high = value_range
    return go.Figure(traces, layout | {
        "coloraxis": {"colorscale": "Viridis", "cmin": low, "cmax": high if high > low else low + 1.0,
                      "colorbar": {"title": _("value")}},
        "height": 330, "margin": {"l": 0, "r": 0, "t": 70, "b": 0}, "title": {"text": title, "font": {"size": 13}}})


def depth_statistics(keys: Sequence[str], labels: Sequence[str], stats: dict[str, Sequence[float]], selected: str) -> go.Figure:
    """Mean, std, fraction of zeros and spatial size per captured layer, the selected one marked."""
    figure = make_subplots(rows=2, cols=2, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=(
        _("mean"), _("standard deviation"), _("fraction of zeros (ReLU sparsity)"), _("spatial size (px)")))
    x = list(range(len(keys)))
    for (name, values), (row, col) in zip(stats.items(), ((1, 1), (1, 2), (2, 1), (2, 2))):
        figure.add_trace(go.Scatter(x=x, y=list(values), mode="lines+markers", name=name, hovertext=list(labels),
                                    hoverinfo="text+y", marker={"size": 4}, showlegend=False), row=row, col=col)
    # The marks as one list of shapes: add_vline per subplot costs ~10 ms each, most of the chart's time.
    position = keys.index(selected) if selected in keys else None
    marks = [] if position is None else [
        {"type": "line", "x0": position, "x1": position, "y0": 0, "y1": 1, "xref": f"x{axis}",
         "yref": f"y{axis} domain", "line": {"color": "#e74c3c", "width": 2, "dash": "dot"}}
        for axis in ("", "2", "3", "4")]  # the four subplots' axes
    figure.update_xaxes(title_text=_("captured layer (execution order)"), row=2)
    figure.update_layout(shapes=marks, height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         title={"text": _("Statistics across depth (red: the selected layer)"), "font": {"size": 14}})
    return figure


def stage_outputs(maps: Sequence[np.ndarray], titles: Sequence[str], title: str) -> go.Figure:
    """A model's stage outputs (each (H, W), stretched to [0, 1]) in one row: `side_by_side`,
    as tall as the square maps need."""
    figure = side_by_side(maps, titles, (0.0, 1.0), title)
    figure.update_layout(height=80 + 760 // max(len(maps), 1))  # a map is about 760 px / n wide at 1400 px
    return figure
