"""Compare's hand-out: the comparison of two ResNets as one self-contained HTML page.

A teacher downloads it, prints it or sends it: the styles, the plotly library and every
figure's data are inside the file, so it opens offline. It holds what the page shows from
the layer tables and torchvision's meta — the summary, the totals, the stage bars, the
training memory, the published accuracy and its chart, the conventions — in the reader's
language, and the measured speeds when they were measured (they belong to one device at one
moment, and say so).
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterable

import plotly.graph_objects as go

from explorer.analysis.anatomy import LayerTable
from explorer.analysis.compare import (
    accuracy_lines, accuracy_table, aligned_stages, chart_highlights, explain_difference, latency_lines, speed_table,
    totals_table,
)
from explorer.analysis.family_diff import family_lines
from explorer.analysis.table_format import RowsTable
from explorer.analysis.training_cost import (
    MeasuredSpeeds, training_lines, training_memory, training_memory_table, training_memory_text,
    training_speed_table,
)
from explorer.analysis.zoo import convention_text, ops_convention, published_weights, weights_of
from explorer.figures.architecture import stage_bars
from explorer.figures.zoo import accuracy_vs_cost
from explorer.runtime.i18n import _, in_language, language as current_language

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
       max-width: 960px; margin: 1.5em auto; padding: 0 1em; color: #1f2d3d; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.4em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; } th { background: #f4f6f8; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 0.9em; } .warning { color: #8a4b00; font-size: 0.9em; }
@media print { h2 { break-after: avoid; } .figure { break-inside: avoid; } }
"""
BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline(text: str) -> str:
    """A sentence of the page's (markdown ``**bold**`` only) as HTML, everything else escaped."""
    return BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def cell_text(value: object, places: int | None = None) -> str:
    """A table cell as the page shows it: integers with thousands separators, fixed decimals where
    the table says so, a dash for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{places}f}" if places is not None else f"{value:g}"
    return str(value)


def table_html(table: RowsTable) -> str:
    """``table`` as an HTML table, cells by `cell_text`."""
    head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            value = row[column]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            opening = '<td class="number">' if number else "<td>"
            cells.append(f"{opening}{html.escape(cell_text(value, table.decimals.get(column)))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _heading(text: str) -> str:
    return f"<h2>{html.escape(text)}</h2>"


def _paragraph(text: str, kind: str = "") -> str:
    return f"<p{f' class={kind!r}' if kind else ''}>{inline(text)}</p>"


def _list(lines: Iterable[str], kind: str = "") -> str:
    items = "".join(f"<li>{inline(line)}</li>" for line in lines)
    return f"<ul{f' class={kind!r}' if kind else ''}>{items}</ul>" if items else ""


def _figure(figure: go.Figure, with_library: bool) -> str:
    """The figure's div and script; the plotly library itself inline with the first (offline)."""
    return '<div class="figure">' + figure.to_html(full_html=False, include_plotlyjs=with_library,
                                                   config={"displaylogo": False, "responsive": True}) + "</div>"


def comparison_html(table_a: LayerTable, table_b: LayerTable, speeds: MeasuredSpeeds | None = None,
                    language: str | None = None) -> str:
    """The comparison of ``table_a``'s and ``table_b``'s models as one self-contained HTML page, in
    ``language`` (default: the current one; a download runs outside the session, so the page
    passes its reader's)."""
    with in_language(language) if language else contextlib.nullcontext():
        return _comparison_html(table_a, table_b, speeds, language)


def _comparison_html(table_a: LayerTable, table_b: LayerTable, speeds: MeasuredSpeeds | None,
                     language: str | None) -> str:
    name_a, name_b = table_a.spec.name, table_b.spec.name
    height, width = table_a.input_size
    title = _("Compare two ResNets") + f": {name_a} / {name_b}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             _paragraph(_("A: **{name_a}** · B: **{name_b}** · input {height}×{width} px · made with ResNet "
                          "Explorer").format(name_a=name_a, name_b=name_b, height=height, width=width), "note"),
             _heading(_("Where the difference goes")), _list(explain_difference(table_a, table_b) + family_lines(table_a, table_b)),
             _heading(_("Totals")), table_html(totals_table(table_a, table_b)),
             _figure(stage_bars(aligned_stages(table_a, table_b), name_a, name_b), with_library=True)]

    memory_a, memory_b = training_memory(table_a), training_memory(table_b)
    parts += [_heading(_("Training cost")), table_html(training_memory_table(memory_a, memory_b)),
              _paragraph(training_memory_text(memory_a), "note")]
    if speeds is not None:
        step_a, step_b = speeds.training
        parts += [table_html(training_speed_table(step_a, step_b)), _list(training_lines(step_a, step_b))]
        device = speeds.inference[0].device
        parts += [_heading(_("Measured on {device}").format(device=device)),
                  table_html(speed_table(*speeds.inference)), _list(latency_lines(*speeds.inference)),
                  _list(speeds.notes(), "warning"), _paragraph(timing_method_text(), "note")]

    published = {"A": weights_of(table_a.spec), "B": weights_of(table_b.spec)}
    parts.append(_heading(_("What the cost buys")))
    accuracy = accuracy_table(published)
    if accuracy is None:
        parts.append(_paragraph(_("Neither model has published ImageNet weights.")))
    else:
        parts += [table_html(accuracy), _list(accuracy_lines(name_a, published["A"], name_b, published["B"]))]
    parts += [_paragraph(convention_text(ops_convention()), "note"),
              _figure(accuracy_vs_cost(published_weights(), chart_highlights(table_a.spec, table_b.spec)),
                      with_library=False)]

    parts += [_heading(_("Conventions")), _list([
        _("**MACs** count the multiply-accumulates of the conv and linear layers; **FLOPs** = 2 × MACs. Batch norm, "
          "ReLU and pooling are not counted."),
        _("Parameters and activation memory are float32 (4 bytes each); activation memory counts every layer's "
          "output for one image unless a batch is named."),
        _("A training step does about 3× the MACs of a forward pass."),
    ])]
    return (f'<!DOCTYPE html><html lang="{html.escape(language or current_language())}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def timing_method_text() -> str:
    """How the speeds were measured, in the reader's language."""
    return _("Each time is the median of several runs after warm-up runs, with the fastest and the slowest run beside "
             "it, on models built for the measurement from random weights and images. They hold for this device at "
             "that moment: another session or program using it makes every run slower.")



def handout_name(table_a: LayerTable, table_b: LayerTable, measured: bool = False) -> str:
    """The hand-out's file name, "compare_resnet18_resnet50_224px.html" ("…_measured.html" with the
    measured speeds); characters a file name should not hold become "_"."""
    stem = f"compare_{table_a.spec.name}_{table_b.spec.name}_{table_a.input_size[0]}px" + ("_measured" if measured else "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) + ".html"
