"""Feature maps as heatmaps: a channel mosaic, one channel, maps side by side, statistics across depth."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.analysis.colour_scale import ColourScale
from explorer.figures.layout import unchecked_figure
from explorer.runtime.i18n import N_, _


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
    """A mosaic of the chosen channels (maps: (C, H, W) float32), colour scale stated in the title.
    Drawn on every layer click, so built unchecked (`unchecked_figure`)."""
    chosen = maps[list(channels)]
    values, zmin, zmax = scaled_maps(chosen, scale, value_range)
    columns = min(8, max(1, len(channels)))
    tiled = mosaic(values, columns)
    height, width = chosen.shape[1:]
    labels = []
    for index, channel in enumerate(channels):
        r, c = divmod(index, columns)
        labels.append({"x": c * (width + 1), "y": tiled.shape[0] - r * (height + 1) - 1, "text": f"c{channel}",
                       "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 9, "color": "white"},
                       "bgcolor": "rgba(0,0,0,0.45)"})
    rows = math.ceil(len(channels) / columns)
    heatmap = {"type": "heatmap", "z": tiled[::-1], "zmin": zmin, "zmax": zmax, "colorscale": "Viridis",
               "hoverongaps": False, "hovertemplate": _("value") + " %{z:.3f}<extra></extra>",
               "colorbar": {"title": {"text": "0–1" if scale is ColourScale.PER_CHANNEL else _("value")}}}
    return unchecked_figure([heatmap], {
        "annotations": labels, "height": int(110 + rows * min(170, 900 / columns)),
        "xaxis": {"visible": False, "constrain": "domain"}, "yaxis": {"visible": False, "scaleanchor": "x"},
        "margin": {"l": 0, "r": 0, "t": 50, "b": 0},
        "title": {"text": title + "<br><sup>" + _("colour scale: {scale} — {meaning}").format(
            scale=scale.label, meaning=scale.meaning) + "</sup>", "font": {"size": 14}}})


def channel_zoom(single: np.ndarray, title: str) -> go.Figure:
    """One channel (H, W) with its real value range on the colour bar (built unchecked: every click draws it)."""
    heatmap = {"type": "heatmap", "z": single[::-1], "colorscale": "Viridis", "colorbar": {"title": {"text": _("value")}},
               "hovertemplate": "x %{x}, y %{y}: %{z:.4f}<extra></extra>"}
    return unchecked_figure([heatmap], {
        "height": 380, "margin": {"l": 0, "r": 0, "t": 50, "b": 0},
        "xaxis": {"visible": False, "constrain": "domain"}, "yaxis": {"visible": False, "scaleanchor": "x"},
        "title": {"text": title + "<br><sup>" + _("range {low:.3f} … {high:.3f}").format(
            low=single.min(), high=single.max()) + "</sup>", "font": {"size": 13}}})


def side_by_side(maps: Sequence[np.ndarray], titles: Sequence[str], value_range: tuple[float, float], title: str) -> go.Figure:
    """Maps (each (H, W)) in one row, with one colour range and one colour bar so they compare.

    One figure, not one per map, so the browser draws them in one pass on every layer click;
    its axes are laid out here (make_subplots would add ~10 ms per figure), and it is built unchecked.
    """
    gap = 0.03
    width = (1 - gap * (len(maps) - 1)) / len(maps)
    layout: dict = {"annotations": []}
    traces = []
    for index, (single, name) in enumerate(zip(maps, titles)):
        axis = "" if index == 0 else str(index + 1)  # plotly's ids: x, x2, x3 (never x1)
        x, y, left = f"x{axis}", f"y{axis}", index * (width + gap)
        traces.append({"type": "heatmap", "z": single[::-1], "coloraxis": "coloraxis", "xaxis": x, "yaxis": y,
                       "name": name, "hovertemplate": "x %{x}, y %{y}: %{z:.4f}<extra>%{fullData.name}</extra>"})
        layout[f"xaxis{axis}"] = {"domain": [left, left + width], "anchor": y, "visible": False, "constrain": "domain"}
        layout[f"yaxis{axis}"] = {"anchor": x, "visible": False, "scaleanchor": x}
        layout["annotations"].append({"text": name, "x": left + width / 2, "y": 1, "xref": "paper", "yref": "paper",
                                      "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    low, high = value_range
    return unchecked_figure(traces, layout | {
        "coloraxis": {"colorscale": "Viridis", "cmin": low, "cmax": high if high > low else low + 1.0,
                      "colorbar": {"title": _("value")}},
        "height": 330, "margin": {"l": 0, "r": 0, "t": 70, "b": 0}, "title": {"text": title, "font": {"size": 13}}})


# The depth chart's four panels: (statistic key, title), in reading order.
DEPTH_PANELS = (("mean", N_("mean")), ("std", N_("standard deviation")),
                ("zeros", N_("fraction of zeros (ReLU sparsity)")), ("size", N_("spatial size (px)")))


def depth_statistics(keys: Sequence[str], labels: Sequence[str], stats: dict[str, Sequence[float]], selected: str) -> go.Figure:
    """Mean, std, fraction of zeros and spatial size per captured layer, the selected one marked.

    The x axis names the layers (``keys``, "layer3.1"; plotly shows as many as fit), hover
    gives each one's full label. Four panels laid out here and built unchecked: every layer
    click draws the chart again, and plotly's make_subplots and validation took ~20 ms of it.
    """
    gap_x, gap_y = 0.08, 0.14
    width, height = (1 - gap_x) / 2, (1 - gap_y) / 2
    traces, layout = [], {"annotations": [], "shapes": []}
    position = keys.index(selected) if selected in keys else None
    for index, (key, title) in enumerate(panel for panel in DEPTH_PANELS if panel[0] in stats):
        row, col = divmod(index, 2)
        axis = "" if index == 0 else str(index + 1)
        left, bottom = col * (width + gap_x), (1 - row) * (height + gap_y)
        traces.append({"type": "scatter", "x": list(keys), "y": list(stats[key]), "mode": "lines+markers", "name": key,
                       "hovertext": list(labels), "hoverinfo": "text+y", "marker": {"size": 4}, "showlegend": False,
                       "xaxis": f"x{axis}", "yaxis": f"y{axis}"})
        layout[f"xaxis{axis}"] = {"domain": [left, left + width], "anchor": f"y{axis}", "type": "category",
                                  "tickfont": {"size": 9}, "automargin": True}
        layout[f"yaxis{axis}"] = {"domain": [bottom, bottom + height], "anchor": f"x{axis}"}
        layout["annotations"].append({"text": _(title), "x": left + width / 2, "y": bottom + height, "xref": "paper",
                                      "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False})
        if position is not None:
            layout["shapes"].append({"type": "line", "x0": position, "x1": position, "y0": 0, "y1": 1,
                                     "xref": f"x{axis}", "yref": f"y{axis} domain",
                                     "line": {"color": "#e74c3c", "width": 2, "dash": "dot"}})
    return unchecked_figure(traces, layout | {
        "height": 560, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "title": {"text": _("Statistics across depth (red: the selected layer)"), "font": {"size": 14}}})


def stage_outputs(maps: Sequence[np.ndarray], titles: Sequence[str], title: str) -> go.Figure:
    """A model's stage outputs (each (H, W), stretched to [0, 1]) in one row: `side_by_side`,
    as tall as the square maps need."""
    figure = side_by_side(maps, titles, (0.0, 1.0), title)
    figure.update_layout(height=80 + 760 // max(len(maps), 1))  # a map is about 760 px / n wide at 1400 px
    return figure


def channel_values(values: np.ndarray, selected: int | None, title: str) -> go.Figure:
    """One bar per channel (values: (C,), a gate's numbers), the ``selected`` channel in red.

    A gate is C numbers, not C maps of 1x1: a bar each shows them all. Sigmoid outputs keep
    the full 0–1 axis, so a gate near 1 (the channel passes) and near 0 (it is shut) read as such.
    """
    colours = ["#2980b9"] * len(values)
    if selected is not None and 0 <= selected < len(values):
        colours[selected] = "#e74c3c"
    bounded = len(values) and 0.0 <= float(values.min()) and float(values.max()) <= 1.0
    bars = {"type": "bar", "x": list(range(len(values))), "y": values.tolist(),
            "marker": {"color": colours, "line": {"width": 0}},
            "hovertemplate": _("channel") + " %{x}: %{y:.4f}<extra></extra>"}
    layout = {"height": 300, "margin": {"l": 10, "r": 10, "t": 50, "b": 40}, "bargap": 0,
              "xaxis": {"title": {"text": _("channel")}, "automargin": True},
              "yaxis": {"range": [0, 1], "automargin": True} if bounded else {"automargin": True},
              "title": {"text": title, "font": {"size": 13}}}
    if selected is not None and 0 <= selected < len(values):
        layout["annotations"] = [{"x": selected, "y": float(values[selected]), "text": f"c{selected}: {values[selected]:.3f}",
                                  "showarrow": True, "arrowhead": 2, "ax": 0, "ay": -30, "arrowcolor": "#e74c3c",
                                  "bgcolor": "rgba(255,255,255,0.85)", "font": {"color": "#e74c3c"}}]
    return unchecked_figure([bars], layout)
