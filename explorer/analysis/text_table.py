"""Tables as fixed-width text for a terminal: numbers right-aligned with thousands separators,
empty cells blank, and a layer table narrowed to fit `TERMINAL_WIDTH` columns.

The CLI prints these; files (CSV, JSON) never go through here and keep every column. A layer
table too wide for the terminal first takes short headers (a legend line says their units),
then leaves out the columns another column repeats or fewest readers need (`DROP_ORDER`),
and says which; ``wide=True`` prints every column with its full label.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from explorer.analysis.anatomy import LayerTable, TableRow
from explorer.analysis.table_format import Column, format_value, human_bytes, human_count, silent_columns

TERMINAL_WIDTH = 120  # columns a text table fits unless asked for all: half a wide screen, a full laptop one
GAP = "  "  # between columns

# Headers for a narrow table (English: the CLI's language), where the full label is much wider
# than the cells under it; `LEGEND` says what each one counts.
SHORT_LABELS = {
    Column.IN_SHAPE: "In", Column.OUT_SHAPE: "Out", Column.PADDING: "Pad", Column.DILATION: "Dil.",
    Column.DOWNSAMPLE: "On shortcut", Column.MACS: "MACs", Column.RF_SIZE: "RF", Column.RF_JUMP: "Jump",
    Column.ACTIVATION_BYTES: "Act. bytes",
}
LEGEND = {
    Column.IN_SHAPE: "In/Out: C×H×W", Column.OUT_SHAPE: "In/Out: C×H×W", Column.MACS: "MACs: conv+linear",
    Column.RF_SIZE: "RF: receptive field (px)", Column.RF_JUMP: "Jump: RF jump (px)",
    Column.ACTIVATION_BYTES: "Act. bytes: fp32 output of one image",
}
# Left out first when a layer table is still too wide: what the name or the next row repeats
# (the input shape is the previous row's output; stage and block are in "layer2.0.conv1"),
# then what fewest readers look for. Name, output shape, params and MACs always stay.
DROP_ORDER = (
    Column.IN_SHAPE, Column.STAGE, Column.BLOCK, Column.DOWNSAMPLE, Column.RF_JUMP, Column.PADDING,
    Column.ACTIVATION_BYTES, Column.DILATION, Column.GROUPS, Column.CONVS, Column.TYPE, Column.STRIDE,
    Column.KERNEL, Column.SHORTCUT, Column.BLOCKS, Column.RF_SIZE, Column.INDEX,
)


def _cell(value: object) -> str:
    """A cell's text: integers with thousands separators, None blank."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _layout(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[int]:
    return [max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
            for i, header in enumerate(headers)]


def _text(headers: Sequence[str], cells: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    widths = _layout(headers, cells)

    def line(values: Sequence[str]) -> str:
        return GAP.join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def text_table(rows: Sequence[Mapping[str, object]]) -> str:
    """Dicts with the same keys as fixed-width text: the keys are the headers, a column of
    integers is right-aligned with thousands separators, None is a blank cell."""
    if not rows:
        return ""
    headers = list(rows[0])
    numeric = [all(isinstance(row[h], int) and not isinstance(row[h], bool) for row in rows) for h in headers]
    return _text(headers, [[_cell(row[h]) for h in headers] for row in rows], numeric)


@dataclass(frozen=True)
class LayerText:
    """A layer table as terminal text, and what was changed to make it fit."""

    text: str  # header, rule, one line per row
    legend: str  # what the short headers count ("" with full labels)
    left_out: tuple[Column, ...]  # columns that did not fit, in table order
    silent: tuple[Column, ...]  # columns left out because every cell holds the default (dilation 1 …)
    limit: int | None  # the width asked for; None: every column

    @property
    def notes(self) -> tuple[str, ...]:
        """Lines for under the table: the legend, then the columns left out and how to see them."""
        limit = self.limit or TERMINAL_WIDTH
        parts = []
        if self.left_out:
            parts.append(", ".join(c.label for c in self.left_out) + f" (to fit {limit} characters)")
        if self.silent:
            parts.append(", ".join(c.label for c in self.silent) + " (the default in every row)")
        left_out = f"Columns left out: {'; '.join(parts)}. --wide shows them all." if parts else ""
        return tuple(textwrap.fill(text, limit) for text in (self.legend, left_out) if text)


def layer_text(rows: Sequence[TableRow], columns: Sequence[Column], width: int | None = TERMINAL_WIDTH) -> LayerText:
    """``rows`` in ``columns`` as text at most ``width`` characters wide (None: every column, full labels).

    Columns holding only their default are left out first, then the labels shorten
    (`SHORT_LABELS`), then columns go in `DROP_ORDER` until the table fits.
    """
    cells = {c: [_cell(format_value(getattr(row, c.value))) for row in rows] for c in columns}
    numeric = {c: all(isinstance(getattr(row, c.value), int) and not isinstance(getattr(row, c.value), bool)
                      for row in rows) for c in columns}

    def measure(shown: Sequence[Column], labels: Mapping[Column, str]) -> int:
        return sum(max(len(labels[c]), *map(len, cells[c]), 0) for c in shown) + len(GAP) * (len(shown) - 1)

    full = {c: c.label for c in columns}
    shown, labels, silent = list(columns), full, ()
    if width is not None:
        silent = silent_columns(rows, columns)
        shown = [c for c in columns if c not in silent]
        if measure(shown, full) > width:
            labels = {**full, **{c: s for c, s in SHORT_LABELS.items() if c in full}}
        for column in DROP_ORDER:
            if measure(shown, labels) <= width or len(shown) == 1:
                break
            if column in shown:
                shown.remove(column)
    legend_parts = dict.fromkeys(LEGEND[c] for c in shown if c in LEGEND and labels[c] != full[c])
    text = _text([labels[c] for c in shown], [[cells[c][i] for c in shown] for i in range(len(rows))],
                 [numeric[c] for c in shown])
    left_out = tuple(c for c in columns if c not in shown and c not in silent)
    return LayerText(text, " · ".join(legend_parts), left_out, tuple(silent), width)


def totals_text(table: LayerTable) -> str:
    """The totals under a text table, in two lines of at most `TERMINAL_WIDTH` characters."""
    t = table.totals
    return (
        f"{table.spec.name} at {t.input_size[0]}x{t.input_size[1]}: depth {t.depth}, params {t.params:,}, "
        f"receptive field {t.rf_size} px, output stride {t.output_stride}\n"
        f"MACs (conv+linear) {t.macs:,} ({human_count(t.macs)}; FLOPs = 2 x MACs = {human_count(t.flops)}), "
        f"activations {human_bytes(t.activation_bytes)} per image (fp32)"
    )
