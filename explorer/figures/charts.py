"""Every plotly figure of the app, as functions of plain data (no Streamlit here).

Every text a figure shows is in the reader's language: the functions run in the session's
script thread, where `_()` speaks the session's language; texts defined at import time are
marked with `N_()` and translated where they are drawn.
"""

from __future__ import annotations

import functools
import io
import math
import re
import textwrap
from collections.abc import Sequence

import numpy as np

# plotly imports pandas lazily through a sys.modules lookup, which can hand a concurrent
# session a half-imported module (seen with 12 sessions on a fresh server). Importing it
# before plotly, through the import system and its module locks, makes a session wait for it.
import pandas  # noqa: F401
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from explorer.analysis.anatomy import BlockRow, LayerRow, LayerTable
from explorer.analysis.compare import StagePair
from explorer.runtime.i18n import N_, _
from explorer.analysis.profiling import CostReport
from explorer.analysis.receptive_field import InputBox, ReceptiveField
from explorer.analysis.table_format import cell_word, folded, format_shape

STAGE_COLOURS = ("#dbe9f6", "#dff2e1", "#fdf0d5", "#f7dede", "#e8e1f5", "#d9f1f1", "#f1e4d8", "#e6e6e6")
SHORTCUT_STYLES = {  # the paper draws identity shortcuts solid and projections dashed; legends shown through _()
    "identity": ("solid", "#2c3e50", N_("identity shortcut")),
    "projection": ("dash", "#d35400", N_("projection shortcut (1x1 conv + BN)")),
    "avg-pool projection": ("dashdot", "#8e44ad", N_("avg-pool + 1x1 projection (V1d)")),
    "zero-pad": ("dot", "#16a085", N_("zero-padded identity (option A)")),
}
# Stages longer than this show their first blocks, a "⋮ n more" box and the last block.
MAX_BLOCKS_SHOWN = 7
HEAD_BLOCKS_SHOWN = 4
# Legends sit at the foot of the figure, under the axis labels, so that they never cover a
# title however many rows they wrap to (the figure's bottom margin grows to hold them).
LEGEND_AT_FOOT = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"}


WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")  # CJK characters and full-width punctuation
# Chinese punctuation that may not start a line.
NO_LINE_START = "，。：；、）》」』？！…"
BREAK_AFTER = "，。：；、）？！ "  # where a Chinese title breaks best


def wrapped_title(text: str, width: int = 60) -> str:
    """A title broken into lines of about ``width`` characters: plotly never wraps one, and a
    figure in half a page is narrower than most titles. A Chinese character counts as two
    (it is drawn about twice as wide); Chinese breaks between characters, Latin words stay whole."""
    if not WIDE.search(text):
        return "<br>".join(textwrap.wrap(text, width)) or text
    def size(part: str) -> int:
        return sum(2 if WIDE.match(c) else 1 for c in part)

    lines, line = [], ""
    for token in re.findall(r"[A-Za-z0-9_.,:;!?%@()'/+=\-×·→]+|\s+|.", text):
        if size(line + token) > width and line.strip() and not token.isspace() and token[0] not in NO_LINE_START:
            # Break after the line's last punctuation or space when that keeps most of the line, not inside a word.
            cut = max(line.rfind(mark) for mark in BREAK_AFTER)
            cut = cut + 1 if cut >= 0 and size(line[:cut + 1]) >= width * 0.6 else len(line)
            lines.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        if line or not token.isspace():
            line += token
    lines.append(line.rstrip())
    return "<br>".join(lines)


def log_axis(values: Sequence[float]) -> dict[str, object]:
    """A log axis over ``values`` whose labels read plainly, never plotly's "2 5" between decades:
    whole decades (1, 10, 100 …) when the positive values span 1.5 decades or more, else the
    1-2-5 series (2, 5, 10, 20 …) over a slightly padded range."""
    positive = [v for v in values if v > 0]
    if not positive:
        return {"type": "log"}
    low, high = min(positive), max(positive)
    if math.log10(high / low) >= 1.5:
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        return {"type": "log", "range": [first, last], "dtick": 1, "exponentformat": "power",
                "minor": {"showgrid": True, "gridcolor": "#f4f4f4"}}
    series = [m * 10**e for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 2)
              for m in (1, 2, 5)]
    low, high = low / 1.3, high * 1.3
    ticks = [t for t in series if low <= t <= high]
    if len(ticks) < 2:  # a narrow range: reach out to the labels on either side
        low, high = max(t for t in series if t <= low), min(t for t in series if t >= high)
        ticks = [low, high]
    return {"type": "log", "range": [math.log10(low), math.log10(high)], "tickvals": ticks,
            "ticktext": [f"{t:g}" for t in ticks]}


def _hover(block: BlockRow, rows: Sequence[LayerRow]) -> str:
    cost = {"stride": block.stride, "params": block.params, "macs": block.macs}
    lines = [
        f"<b>{block.name}</b>: {format_shape(block.in_shape, '×')} → {format_shape(block.out_shape, '×')}",
        _("stride {stride} · {shortcut} shortcut · {params:,} params · {macs:,} MACs").format(
            shortcut=cell_word(block.shortcut), **cost) if block.shortcut
        else _("stride {stride} · no shortcut · {params:,} params · {macs:,} MACs").format(**cost),
    ]
    lines += [f"{r.name} ({r.type}) → {format_shape(r.out_shape, '×')}" for r in rows[:14]]
    if len(rows) > 14:
        lines.append(_("… {count} more layers").format(count=len(rows) - 14))
    return "<br>".join(lines)


def _visible_blocks(blocks: Sequence[BlockRow]) -> list[BlockRow | int]:
    """The blocks to draw; an int stands for that many elided identical blocks."""
    return folded(blocks, MAX_BLOCKS_SHOWN, HEAD_BLOCKS_SHOWN)


def architecture_diagram(table: LayerTable) -> go.Figure:
    """Stem → stages → head as columns of blocks; each block lists its convs.

    Identity shortcuts are drawn solid and projection shortcuts dashed, as in the paper's
    Fig. 3. Each block carries its name in ``customdata`` so a click can select it.
    """
    figure = go.Figure()
    rows_by_block: dict[str, list[LayerRow]] = {}
    for row in table.rows:
        rows_by_block.setdefault(row.block_name, []).append(row)
    columns = [(s.name, [b for b in table.blocks if b.stage == s.name]) for s in table.stages]
    width, height, gap = 0.78, 0.84, 0.25
    centres_x, centres_y, hovers, names = [], [], [], []
    shown_styles: set[str] = set()
    depth = max(len(_visible_blocks(blocks)) for _stage, blocks in columns)
    for x, ((stage_name, blocks), colour) in enumerate(zip(columns, STAGE_COLOURS * 4)):
        stage = next(s for s in table.stages if s.name == stage_name)
        count = (_("{count} block") if stage.blocks == 1 else _("{count} blocks")).format(count=stage.blocks)
        title = f"<b>{stage_name}</b><br>{count}" if stage.blocks else f"<b>{stage_name}</b>"
        figure.add_annotation(x=x, y=0.75, text=f"{title}<br>→ {format_shape(stage.out_shape, '×')}", showarrow=False,
                              font={"size": 11}, yanchor="bottom")
        for y_index, block in enumerate(_visible_blocks(blocks)):
            y = -y_index * (height + gap)
            x0, x1, y0, y1 = x - width / 2, x + width / 2, y - height / 2, y + height / 2
            if isinstance(block, int):
                figure.add_annotation(x=x, y=y, text=_("⋮<br>{count} more<br>identical blocks").format(count=block),
                                      showarrow=False,
                                      font={"size": 10, "color": "#555"})
                continue
            figure.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, fillcolor=colour,
                             line={"color": "#34495e", "width": 1})
            label = "<br>".join(block.convs.split(" → ")) if block.convs else ""
            if block.block is None and stage_name == "head":
                label = _("avg pool<br>fc {classes}").format(classes=table.spec.num_classes)
            elif block.block is None:
                pooled = any(r.type == "MaxPool2d" for r in rows_by_block[block.name])
                label = label + ("<br>" + _("max pool") if pooled else "")
            figure.add_annotation(x=x, y=y, text=f"<b>{block.name}</b><br>{label}", showarrow=False,
                                  font={"size": 11, "color": "#1f2d3d"})
            if block.shortcut in SHORTCUT_STYLES:  # a plain net's blocks ("none") have no line
                dash, line_colour, legend = SHORTCUT_STYLES[block.shortcut]
                side = x1 + 0.06
                figure.add_trace(go.Scatter(
                    x=[x1, side, side, x1], y=[y1 - 0.05, y1 - 0.05, y0 + 0.05, y0 + 0.05], mode="lines",
                    line={"dash": dash, "color": line_colour, "width": 2}, hoverinfo="skip",
                    name=_(legend), legendgroup=block.shortcut, showlegend=block.shortcut not in shown_styles,
                ))
                shown_styles.add(block.shortcut)
            centres_x.append(x)
            centres_y.append(y)
            hovers.append(_hover(block, rows_by_block[block.name]))
            names.append(block.name)
    figure.add_trace(go.Scatter(
        x=centres_x, y=centres_y, mode="markers", marker={"size": 40, "opacity": 0, "symbol": "square"},
        hovertext=hovers, hoverinfo="text", customdata=names, showlegend=False, name="blocks",
    ))
    figure.update_xaxes(visible=False, range=[-0.6, len(columns) - 0.35])
    figure.update_yaxes(visible=False, range=[-(depth - 0.4) * (height + gap), 1.6])
    figure.update_layout(
        height=int(200 + depth * 95), margin={"l": 10, "r": 10, "t": 40, "b": 40}, plot_bgcolor="white",
        font={"color": "#1f2d3d"}, legend=LEGEND_AT_FOOT,
        hoverlabel={"align": "left"},
        title={"text": _("{model}: stem → stages → head (hover or click a block)").format(model=table.spec.name),
               "font": {"size": 14}},
    )
    return figure


def shape_flow_chart(table: LayerTable) -> go.Figure:
    """Channels and feature-map height after the stem, every block, and the pool."""
    points = [b for b in table.blocks if len(b.out_shape) == 3]
    x = [b.name for b in points]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Scatter(x=x, y=[b.out_shape[0] for b in points], name=_("channels"), mode="lines+markers",
                                line={"shape": "hv", "color": "#2980b9", "width": 3}), secondary_y=False)
    figure.add_trace(go.Scatter(x=x, y=[b.out_shape[1] for b in points], name=_("height (px)"), mode="lines+markers",
                                line={"shape": "hv", "color": "#e67e22", "width": 3, "dash": "dot"}), secondary_y=True)
    figure.update_yaxes(title_text=_("channels"), type="log", dtick=math.log10(2), secondary_y=False)
    figure.update_yaxes(title_text=_("feature-map height (px)"), type="log", dtick=math.log10(2), secondary_y=True)
    figure.update_xaxes(title_text=_("block output (execution order)"), tickangle=-45)
    figure.update_layout(height=440, margin={"l": 10, "r": 10, "t": 50, "b": 40}, hovermode="x unified",
                         legend=LEGEND_AT_FOOT, plot_bgcolor="white", font={"color": "#1f2d3d"},
                         title={"text": _("Shape flow: the channels double each time the map halves"),
                                "font": {"size": 14}})
    return figure


def stage_bars(pairs: Sequence[StagePair], name_a: str, name_b: str) -> go.Figure:
    """Per-stage params, MACs and activation memory of two models, grouped bars."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=(
        _("Parameters (M)"), _("MACs, conv+linear (G)"), _("Activation memory (MiB, fp32, 1 image)")))
    stages = [p.name for p in pairs]
    metrics = (
        (lambda p: (p.a_params / 1e6, p.b_params / 1e6)),
        (lambda p: (p.a_macs / 1e9, p.b_macs / 1e9)),
        (lambda p: (p.a_activation_bytes / 2**20, p.b_activation_bytes / 2**20)),
    )
    for col, metric in enumerate(metrics, start=1):
        values = [metric(p) for p in pairs]
        for index, (name, colour) in enumerate(((name_a, "#3498db"), (name_b, "#e67e22"))):
            figure.add_trace(go.Bar(x=stages, y=[v[index] for v in values], name=name, marker_color=colour,
                                    showlegend=col == 1, legendgroup=name), row=1, col=col)
    figure.update_layout(barmode="group", height=380, margin={"l": 10, "r": 10, "t": 50, "b": 40},
                         legend=LEGEND_AT_FOOT)
    return figure


def latency_chart(report: CostReport, top: int = 20) -> go.Figure:
    """The slowest leaf-layer calls of a measured forward pass."""
    slowest = sorted(report.layers, key=lambda layer: layer.milliseconds, reverse=True)[:top][::-1]
    labels = [layer.label for layer in slowest]
    figure = go.Figure(go.Bar(x=[layer.milliseconds for layer in slowest], y=labels, orientation="h",
                              marker_color="#c0392b"))
    figure.update_layout(height=max(300, 22 * len(slowest) + 80), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis_title=_("milliseconds (median)"),
                         title={"text": _("Slowest {count} layers on {device}, batch {batch}").format(
                             count=len(slowest), device=report.device, batch=report.batch), "font": {"size": 14}})
    return figure


def heat_css(value: float, maximum: float) -> str:
    """A white → red background for a table cell, by ``value / maximum``."""
    if not maximum or value != value:  # NaN
        return ""
    strength = max(0.0, min(1.0, value / maximum))
    return f"background-color: rgba(231, 76, 60, {0.08 + 0.72 * strength:.2f})"


# ---- feature maps ---------------------------------------------------------------------

SCALES = {  # colour-scale mode (compared in code; shown through _()) → what it means (shown through _())
    N_("per channel"): N_("each channel stretched to its own min–max"),
    N_("per layer"): N_("one range for all channels of this layer"),
    N_("global"): N_("one range for every captured layer"),
}


def _grid(maps: np.ndarray, columns: int) -> tuple[np.ndarray, int]:
    """Tile (N, H, W) maps into one image with 1-pixel NaN gaps; returns (image, columns)."""
    count, height, width = maps.shape
    rows = math.ceil(count / columns)
    mosaic = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan, dtype=np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        mosaic[r * (height + 1): r * (height + 1) + height, c * (width + 1): c * (width + 1) + width] = maps[index]
    return mosaic, columns


def scaled_maps(maps: np.ndarray, scale: str, value_range: tuple[float, float]) -> tuple[np.ndarray, float, float]:
    """Maps and the (zmin, zmax) to draw them with, for a colour-scale mode.

    ``value_range`` is the layer's range for "per layer" and all layers' for "global";
    "per channel" stretches each map to [0, 1].
    """
    if scale == "per channel":
        low = maps.min(axis=(1, 2), keepdims=True)
        high = maps.max(axis=(1, 2), keepdims=True)
        return (maps - low) / np.where(high > low, high - low, 1.0), 0.0, 1.0
    low, high = value_range
    return maps, low, high if high > low else low + 1.0


def channel_grid(maps: np.ndarray, channels: Sequence[int], scale: str, value_range: tuple[float, float], title: str) -> go.Figure:
    """A mosaic of the chosen channels (maps: (C, H, W) float32), colour scale stated in the title."""
    chosen = maps[list(channels)]
    values, zmin, zmax = scaled_maps(chosen, scale, value_range)
    columns = min(8, max(1, len(channels)))
    mosaic, _columns = _grid(values, columns)
    height, width = chosen.shape[1:]
    figure = go.Figure(go.Heatmap(z=mosaic[::-1], zmin=zmin, zmax=zmax, colorscale="Viridis", hoverongaps=False,
                                  colorbar={"title": "0–1" if scale == "per channel" else _("value")},
                                  hovertemplate=_("value") + " %{z:.3f}<extra></extra>"))
    # One list for the layout: plotly's add_annotation costs ~5 ms each, 64 labels a third of a second.
    labels = []
    for index, channel in enumerate(channels):
        r, c = divmod(index, columns)
        labels.append({"x": c * (width + 1), "y": mosaic.shape[0] - r * (height + 1) - 1, "text": f"c{channel}",
                       "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 9, "color": "white"},
                       "bgcolor": "rgba(0,0,0,0.45)"})
    rows = math.ceil(len(channels) / columns)
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(annotations=labels, height=int(110 + rows * min(170, 900 / columns)),
                         margin={"l": 0, "r": 0, "t": 50, "b": 0},
                         title={"text": title + "<br><sup>" + _("colour scale: {scale} — {meaning}").format(
                             scale=_(scale), meaning=_(SCALES[scale])) + "</sup>", "font": {"size": 14}})
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


def filter_tiles(weight: np.ndarray, upscale: int = 6) -> np.ndarray:
    """First-layer filters (N, 3, k, k) as RGB tiles, each stretched to [0, 1]: (rows·k', cols·k', 3) uint8."""
    count, _channels, k, _k = weight.shape
    low = weight.min(axis=(1, 2, 3), keepdims=True)
    high = weight.max(axis=(1, 2, 3), keepdims=True)
    tiles = (weight - low) / np.where(high > low, high - low, 1.0)  # (N, 3, k, k) in [0, 1]
    tiles = np.repeat(np.repeat(tiles, upscale, axis=2), upscale, axis=3).transpose(0, 2, 3, 1)  # (N, k', k', 3)
    columns = min(16, count)
    rows = math.ceil(count / columns)
    side = k * upscale
    sheet = np.ones((rows * (side + 2), columns * (side + 2), 3), dtype=np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        sheet[r * (side + 2) + 1: r * (side + 2) + 1 + side, c * (side + 2) + 1: c * (side + 2) + 1 + side] = tiles[index]
    return (sheet * 255).round().astype(np.uint8)


@functools.cache
def _colour_table(name: str) -> np.ndarray:
    """A plotly colour scale sampled at 256 steps: (256, 3) uint8, read-only (one per name, shared by every call)."""
    colours = sample_colorscale(name, list(np.linspace(0, 1, 256)))
    table = np.array([[int(float(v)) for v in c[c.index("(") + 1:-1].split(",")] for c in colours], dtype=np.uint8)
    table.flags.writeable = False
    return table


def viridis_png(maps: np.ndarray, scale: str, value_range: tuple[float, float], columns: int = 8) -> bytes:
    """The channel mosaic as a PNG (viridis), for download."""
    values, zmin, zmax = scaled_maps(maps, scale, value_range)
    mosaic, _columns = _grid(values, min(columns, len(maps)))
    normalized = np.clip((mosaic - zmin) / (zmax - zmin), 0, 1)
    rgb = _colour_table("Viridis")[np.nan_to_num(normalized * 255, nan=0).astype(np.uint8)]
    rgb[np.isnan(mosaic)] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = 0.55) -> Image.Image:
    """A map (H, W) stretched to the picture's size and laid over it in jet colours."""
    low, high = float(heat.min()), float(heat.max())
    normalized = (heat - low) / (high - low) if high > low else np.zeros_like(heat)
    coloured = Image.fromarray(_colour_table("Jet")[(normalized * 255).astype(np.uint8)], "RGB")
    return Image.blend(image.convert("RGB"), coloured.resize(image.size, Image.BILINEAR), alpha)


def topk_bars(labels: Sequence[str], probabilities: Sequence[float], title: str) -> go.Figure:
    """Top-k probabilities as horizontal bars, best on top."""
    figure = go.Figure(go.Bar(x=[p * 100 for p in probabilities][::-1], y=list(labels)[::-1], orientation="h",
                              marker_color="#2980b9", text=[f"{p:.1%}" for p in probabilities][::-1],
                              textposition="auto"))
    figure.update_layout(height=80 + 34 * len(labels), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis={"title": _("probability (%)"), "range": [0, 100]},
                         title={"text": title, "font": {"size": 13}})
    return figure


# ---- zero_init_residual and degradation -------------------------------------------------

LINE_COLOURS = ("#2980b9", "#e67e22", "#27ae60", "#c0392b", "#8e44ad", "#16a085")


def lines(x: Sequence[str], series: dict[str, Sequence[float]], title: str, y_title: str, log: bool = False) -> go.Figure:
    """One line per series over named points (blocks or layers); zeros are not drawn on a log axis."""
    figure = go.Figure()
    for (name, values), colour in zip(series.items(), LINE_COLOURS * 3):
        y = [v if not (log and v <= 0) else None for v in values]
        figure.add_trace(go.Scatter(x=list(x), y=y, mode="lines+markers", name=name, line={"color": colour},
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
                         legend=LEGEND_AT_FOOT, title={"text": wrapped_title(title), "font": {"size": 14}},
                         plot_bgcolor="white")
    return figure


def training_curves(histories: dict[str, Sequence], title: str) -> go.Figure:
    """Loss and batch accuracy per step for each trained model."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("training loss"), _("batch accuracy")))
    for (name, history), colour in zip(histories.items(), LINE_COLOURS * 3):
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


# ---- Compare: what the cost buys ---------------------------------------------------------

# x-axis choice → (title, value of an entry, hover format); the texts are shown through _(). The
# choices are compared in code: a page shows them through _() too ("params" is a word, "GMACs" a unit).
ZOO_AXES = {
    N_("GMACs"): (N_("GMACs per 224×224 image (torchvision's “GFLOPS”, log scale)"), lambda e: e.gmacs,
                  N_("{value:.3f} GMACs")),
    N_("params"): (N_("parameters (millions, log scale)"), lambda e: e.params / 1e6, N_("{value:.1f} M params")),
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


def accuracy_vs_cost(entries: Sequence, highlighted: dict[str, str], x: str = "GMACs") -> go.Figure:
    """Published ImageNet top-1 against cost, one point per weights version (`zoo.PublishedWeights`).

    ``highlighted`` maps a model name to its label ("A: resnet18"): those models' points are
    drawn large, in a trace of their own. A dotted line joins a model's V1 and V2 points.
    """
    title, value, hover_format = ZOO_AXES[x]
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
                       f"{_(hover_format).format(value=value(e))}" for e in members], hoverinfo="text")

    others = [e for e in entries if e.model not in highlighted]
    for weights in dict.fromkeys(e.weights for e in others):
        _marker, colour, legend = _zoo_marker(weights)
        figure.add_trace(points([e for e in others if e.weights == weights], legend, colour, 9, False))
    for (model, label), colour in zip(highlighted.items(), ("#2980b9", "#e67e22")):
        members = by_model.get(model, [])
        if members:
            figure.add_trace(points(members, label, colour, 16, True))
    figure.update_xaxes(title_text=_(title), **log_axis([value(e) for e in entries]), gridcolor="#ecf0f1")
    figure.update_yaxes(title_text=_("ImageNet-1K top-1 accuracy (%)"), gridcolor="#ecf0f1")
    figure.update_layout(height=500, margin={"l": 10, "r": 10, "t": 70, "b": 40}, plot_bgcolor="white",
                         legend=LEGEND_AT_FOOT, hoverlabel={"align": "left"},
                         title={"text": wrapped_title(_("Every torchvision ResNet, ResNeXt and Wide ResNet: top-1 "
                                                        "against {cost}").format(cost=_(x)))
                                        + "<br><sup>" + _("hover a point for its model, weights and accuracy")
                                        + "</sup>",
                                "font": {"size": 14}})
    return figure


def stage_outputs(maps: Sequence[np.ndarray], titles: Sequence[str], title: str) -> go.Figure:
    """A model's stage outputs (each (H, W), stretched to [0, 1]) in one row: `side_by_side`,
    as tall as the square maps need."""
    figure = side_by_side(maps, titles, (0.0, 1.0), title)
    figure.update_layout(height=80 + 760 // max(len(maps), 1))  # a map is about 760 px / n wide at 1400 px
    return figure


# ---- receptive fields -------------------------------------------------------------------

RF_BOX_COLOUR = (0, 229, 255)  # the theoretical box: cyan, apart from the field's reds
RF_SQUARE_COLOUR = (255, 255, 255)  # the effective square
RF_PICTURE_SIDE = 448  # pictures are enlarged to about this many pixels, so the lines stay thin


def receptive_field_picture(image: Image.Image, field: np.ndarray, box: InputBox,
                            effective_box: InputBox | None) -> Image.Image:
    """The picture with the effective field (H, W in [0, 1]) laid over it in reds, the theoretical
    box in cyan and the effective square in white.

    Colour and opacity follow the field's square root, so the weak tails a single image gives
    still show; pixels that do not move the output keep the picture.
    """
    scale = max(1, round(RF_PICTURE_SIDE / max(image.size)))
    picture = image.convert("RGB").resize((image.size[0] * scale, image.size[1] * scale), Image.NEAREST)
    shown = np.sqrt(np.clip(field, 0, 1))
    heat = Image.fromarray((shown * 255).astype(np.uint8), "L").resize(picture.size, Image.NEAREST)
    reds = Image.fromarray(_colour_table("Hot")[np.asarray(heat)], "RGB")
    picture = Image.composite(reds, picture, heat.point(lambda v: int(v * 0.85)))
    draw = ImageDraw.Draw(picture)
    for square, colour, width in ((effective_box, RF_SQUARE_COLOUR, 2), (box, RF_BOX_COLOUR, 3)):
        if square is not None:
            draw.rectangle((square.left * scale, square.top * scale, (square.right + 1) * scale - 1,
                            (square.bottom + 1) * scale - 1), outline=colour, width=width)
    return picture


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
