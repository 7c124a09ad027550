"""The Architecture page's figures: the block diagram, the shape flow, per-stage bars, measured latency."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.analysis.anatomy import BlockRow, LayerRow, LayerTable
from explorer.analysis.block_parts import BlockParts, block_parts, gate_rows_text
from explorer.analysis.block_summary import conv_text
from explorer.analysis.compare import StagePair
from explorer.analysis.profiling import CostReport
from explorer.analysis.shortcuts import ShortcutKind
from explorer.analysis.table_format import cell_word, folded, format_shape
from explorer.figures.compare_bars import COLOURS, stage_bars_figure
from explorer.figures.layout import LEGEND_AT_FOOT
from explorer.runtime.i18n import _

STAGE_COLOURS = ("#dbe9f6", "#dff2e1", "#fdf0d5", "#f7dede", "#e8e1f5", "#d9f1f1", "#f1e4d8", "#e6e6e6")
# Stages longer than this show their first blocks, a "⋮ n more" box and the last block.
MAX_BLOCKS_SHOWN = 7
HEAD_BLOCKS_SHOWN = 4


GATE_INK, GATE_FILL = "#a04000", "#fff4e6"  # a gate's side branch, as in the paper figure


def _hover(block: BlockRow, rows: Sequence[LayerRow], parts: BlockParts | None = None) -> str:
    gate = parts.gate if parts is not None else None
    if gate is not None:
        rows = [r for r in rows if r not in gate.rows]
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
    if gate is not None:  # every row of the gate, however long the block
        lines.append(_("<b>{gate}</b>: side branch, multiplies the residual branch before the add").format(
            gate=gate.short) if gate.rows[-1].type != "RadixSoftmax"
            else _("<b>{gate}</b>: side branch, weighs the radix groups of the 3x3").format(gate=gate.short))
        lines += gate_rows_text(gate.rows)
    return "<br>".join(lines)


def branch_lines(block: BlockRow, parts: BlockParts | None) -> list[str]:
    """The residual branch's convs, one a line ("1x1,64", "3x3,64"), as the diagram writes them in a block.

    Pre-activation convs read "BN-ReLU-3x3,64"; ResNeSt's 3x3 "3x3,2×64" (radix groups);
    Res2Net's 3x3s "3x3,26 ×3 hier." (``scales`` - 1 convs in a hierarchy; "∥ + avg" side by side, with the
    pooled last group, where the block strides or projects); a gate's 1x1s are not
    on the branch (the gate is drawn beside it). Other blocks keep their row's ``convs``.
    """
    if parts is None or not (parts.gate or parts.preact or parts.radix > 1 or parts.scales > 1):
        return block.convs.split(" → ") if block.convs else []
    convs = [r for r in parts.branch if r.type == "Conv2d"]
    if parts.scales > 1:
        middle = [r for r in convs if ".convs." in r.name]
        side_by_side = any(r.name.endswith(".pool") for r in parts.branch)  # a block that strides or projects
        how = "∥ + avg" if side_by_side else "hier."
        return [conv_text(convs[0]), f"{conv_text(middle[0])} ×{len(middle)} {how}", conv_text(convs[-1])]
    lines = []
    for row in convs:
        if parts.radix > 1 and row.name.endswith(".conv2.conv"):
            lines.append(f"3x3,{parts.radix}×{row.out_shape[0] // parts.radix}")
        else:
            lines.append(("BN-ReLU-" if parts.preact else "") + conv_text(row))
    return lines


def _gate_tab(figure: go.Figure, parts: BlockParts, x1: float, y0: float, y1: float) -> None:
    """The block's gate as a tab on its right: a side branch, framed apart from the trunk's convs."""
    gate = parts.gate
    left = x1 - 0.24
    figure.add_shape(type="rect", x0=left, x1=x1 - 0.03, y0=y0 + 0.1, y1=y1 - 0.1, fillcolor=GATE_FILL,
                     line={"color": GATE_INK, "width": 1, "dash": "dot"})
    split = gate.rows[-1].type == "RadixSoftmax"
    name, _comma, size = gate.short.partition(", ")
    name, size = ("split<br>attn", f"radix {parts.radix}") if split else (name, size)
    symbol = "Σ" if split else "×"
    for y_line in (y1 - 0.22, y0 + 0.22):  # out of the trunk into the gate, and back
        figure.add_shape(type="line", x0=left - 0.05, x1=left, y0=y_line, y1=y_line, line={"color": GATE_INK, "width": 1})
    figure.add_annotation(x=left + 0.105, y=(y0 + y1) / 2, text=f"<b>{name}</b><br>{size}<br>{symbol}", showarrow=False,
                          font={"size": 9, "color": GATE_INK})


def _visible_blocks(blocks: Sequence[BlockRow]) -> list[BlockRow | int]:
    """The blocks to draw; an int stands for that many elided identical blocks."""
    return folded(blocks, MAX_BLOCKS_SHOWN, HEAD_BLOCKS_SHOWN)


def architecture_diagram(table: LayerTable) -> go.Figure:
    """Stem → stages → head as columns of blocks; each block lists its convs.

    Each shortcut is drawn in its `SHORTCUT_STYLES` line (identity solid, projection dashed,
    as in the paper's Fig. 3). Each block carries its name in ``customdata`` so a click can select it.
    """
    figure = go.Figure()
    rows_by_block: dict[str, list[LayerRow]] = {}
    for row in table.rows:
        rows_by_block.setdefault(row.block_name, []).append(row)
    parts_of = block_parts(table)
    columns = [(s.name, [b for b in table.blocks if b.stage == s.name]) for s in table.stages]
    width, height, gap = 0.78, 0.84, 0.25
    centres_x, centres_y, hovers, names = [], [], [], []
    shown_styles: set[ShortcutKind] = set()
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
            parts = parts_of.get(block.name)
            label = "<br>".join(branch_lines(block, parts))
            if block.block is None and stage_name == "head":
                label = _("avg pool<br>fc {classes}").format(classes=table.spec.num_classes)
                if any(r.name == "final_bn" for r in rows_by_block[block.name]):  # pre-activation: BN-ReLU before the pool
                    label = "BN-ReLU<br>" + label
            elif block.block is None:
                pooled = any(r.type == "MaxPool2d" for r in rows_by_block[block.name])
                label = label + ("<br>" + _("max pool") if pooled else "")
            gated = parts is not None and parts.gate is not None
            figure.add_annotation(x=x - 0.11 if gated else x, y=y, text=f"<b>{block.name}</b><br>{label}",
                                  showarrow=False, font={"size": 10 if gated else 11, "color": "#1f2d3d"})
            if gated:
                _gate_tab(figure, parts, x1, y0, y1)
            style = block.shortcut.style if block.shortcut else None
            if style is not None:  # a plain net's blocks have no line
                side = x1 + 0.06
                figure.add_trace(go.Scatter(
                    x=[x1, side, side, x1], y=[y1 - 0.05, y1 - 0.05, y0 + 0.05, y0 + 0.05], mode="lines",
                    line={"dash": style.dash, "color": style.colour, "width": 2}, hoverinfo="skip",
                    name=_(style.legend), legendgroup=block.shortcut.value,
                    showlegend=block.shortcut not in shown_styles,
                ))
                shown_styles.add(block.shortcut)
            centres_x.append(x)
            centres_y.append(y)
            hovers.append(_hover(block, rows_by_block[block.name], parts))
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
    """Per-stage params, MACs and activation memory of two models (`aligned_stages`), grouped bars."""
    return stage_bars_figure([p.name for p in pairs], [
        (name_a, COLOURS[0], [(p.a_params, p.a_macs, p.a_activation_bytes) for p in pairs]),
        (name_b, COLOURS[1], [(p.b_params, p.b_macs, p.b_activation_bytes) for p in pairs]),
    ])


def latency_chart(report: CostReport, top: int = 20) -> go.Figure:
    """The slowest leaf-layer calls of a measured forward pass: each call's median, with a whisker
    from its fastest to its slowest run."""
    slowest = sorted(report.layers, key=lambda layer: layer.milliseconds, reverse=True)[:top][::-1]
    labels = [layer.label for layer in slowest]
    figure = go.Figure(go.Bar(
        x=[layer.milliseconds for layer in slowest], y=labels, orientation="h", marker_color="#c0392b",
        error_x={"type": "data", "symmetric": False, "color": "#7f8c8d", "thickness": 1,
                 "array": [layer.timing.high - layer.milliseconds for layer in slowest],
                 "arrayminus": [layer.milliseconds - layer.timing.low for layer in slowest]}))
    figure.update_layout(height=max(300, 22 * len(slowest) + 80), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         xaxis_title=_("milliseconds: median of {runs} runs, whiskers from the fastest to the "
                                       "slowest").format(runs=report.repeats),
                         title={"text": _("Slowest {count} layers on {device}, batch {batch}").format(
                             count=len(slowest), device=report.device, batch=report.batch), "font": {"size": 14}})
    return figure


def heat_css(value: float, maximum: float) -> str:
    """A white → red background for a table cell, by ``value / maximum``."""
    if not maximum or value != value:  # NaN
        return ""
    strength = max(0.0, min(1.0, value / maximum))
    return f"background-color: rgba(231, 76, 60, {0.08 + 0.72 * strength:.2f})"
