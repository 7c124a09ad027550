"""The layer table for people and files: column labels, cells, CSV, and readable totals.

`anatomy.py` computes rows of plain numbers and tuples; this module only turns them into
text, so the CLI, the CSV/JSON exports, the pages and the charts show them alike.
"""

from __future__ import annotations

import csv
import enum
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from explorer.analysis.anatomy import LayerTable, Level, TableRow
from explorer.analysis.shortcuts import SHORTCUT_STYLES, ShortcutKind
from explorer.runtime.i18n import N_, _


class Column(str, enum.Enum):
    """Column keys (row attribute names) shared by the CLI, the CSV exports and the pages."""

    INDEX = "index"
    NAME = "name"
    TYPE = "type"
    STAGE = "stage"
    BLOCK = "block"
    BLOCKS = "blocks"
    IN_SHAPE = "in_shape"
    OUT_SHAPE = "out_shape"
    KERNEL = "kernel"
    STRIDE = "stride"
    PADDING = "padding"
    DILATION = "dilation"
    GROUPS = "groups"
    DOWNSAMPLE = "downsample"
    SHORTCUT = "shortcut"
    CONVS = "convs"
    PARAMS = "params"
    MACS = "macs"
    RF_SIZE = "rf_size"
    RF_JUMP = "rf_jump"
    ACTIVATION_BYTES = "activation_bytes"

    @property
    def label(self) -> str:
        """Header for people, in their language; says the unit and the counting convention.

        Outside a Streamlit session (the CLI, the CSV files, tests) that is English.
        """
        return _(_LABELS[self])


_LABELS = {
    Column.INDEX: "#",
    Column.NAME: N_("Name"),
    Column.TYPE: N_("Type"),
    Column.STAGE: N_("Stage"),
    Column.BLOCK: N_("Block"),
    Column.BLOCKS: N_("Blocks"),
    Column.IN_SHAPE: N_("In (C×H×W)"),
    Column.OUT_SHAPE: N_("Out (C×H×W)"),
    Column.KERNEL: N_("Kernel"),
    Column.STRIDE: N_("Stride"),
    Column.PADDING: N_("Padding"),
    Column.DILATION: N_("Dilation"),
    Column.GROUPS: N_("Groups"),
    Column.DOWNSAMPLE: N_("Shortcut layer"),
    Column.SHORTCUT: N_("Shortcut"),
    Column.CONVS: N_("Convs"),
    Column.PARAMS: N_("Params"),
    Column.MACS: N_("MACs (conv+linear)"),
    Column.RF_SIZE: N_("RF (px)"),
    Column.RF_JUMP: N_("RF jump (px)"),
    Column.ACTIVATION_BYTES: N_("Activation (bytes, fp32)"),
}

LAYER_COLUMNS = (
    Column.INDEX, Column.NAME, Column.TYPE, Column.STAGE, Column.BLOCK, Column.IN_SHAPE, Column.OUT_SHAPE,
    Column.KERNEL, Column.STRIDE, Column.PADDING, Column.DILATION, Column.GROUPS, Column.DOWNSAMPLE,
    Column.PARAMS, Column.MACS, Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)
BLOCK_COLUMNS = (
    Column.NAME, Column.STAGE, Column.BLOCK, Column.IN_SHAPE, Column.OUT_SHAPE, Column.STRIDE, Column.SHORTCUT,
    Column.CONVS, Column.PARAMS, Column.MACS, Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)
STAGE_COLUMNS = (
    Column.NAME, Column.BLOCKS, Column.IN_SHAPE, Column.OUT_SHAPE, Column.PARAMS, Column.MACS,
    Column.RF_SIZE, Column.RF_JUMP, Column.ACTIVATION_BYTES,
)
# The columns shown for each level's rows (`LayerTable.rows_at`).
LEVEL_COLUMNS = {Level.LAYERS: LAYER_COLUMNS, Level.BLOCKS: BLOCK_COLUMNS, Level.STAGES: STAGE_COLUMNS}
# On screen, what a reader looks for comes first, so that it shows without scrolling in a
# 1400 px window; files (CSV, the CLI) keep the order above.
SCREEN_LEADING = (Column.INDEX, Column.NAME, Column.OUT_SHAPE, Column.PARAMS, Column.MACS)
# Cells that say nothing new: a column holding only these is hidden on screen.
SILENT_CELLS = {Column.DILATION: (None, 1, (1, 1)), Column.GROUPS: (None, 1), Column.DOWNSAMPLE: (None, False)}


def silent_columns(rows: Sequence[TableRow], columns: Sequence[Column]) -> tuple[Column, ...]:
    """The ``columns`` whose every row holds the default (dilation 1, groups 1, no shortcut layer)."""
    return tuple(c for c in columns if c in SILENT_CELLS
                 and all(getattr(row, c.value) in SILENT_CELLS[c] for row in rows))


def screen_columns(rows: Sequence[TableRow], columns: Sequence[Column]) -> tuple[Column, ...]:
    """``columns`` for a screen: the leading ones first, then the rest in order, less the
    `silent_columns`."""
    silent = silent_columns(rows, columns)
    ordered = [c for c in SCREEN_LEADING if c in columns] + [c for c in columns if c not in SCREEN_LEADING]
    return tuple(c for c in ordered if c not in silent)


# Rows one page of an on-screen table shows. Colouring rows costs about 0.1 ms a row, so
# every torchvision preset (ResNet-152: 464 leaf rows) fits one page and cifar_resnet1202's
# 3,607 take eight.
PAGE_ROWS = 500


def page_count(rows: int, page_rows: int = PAGE_ROWS) -> int:
    """Pages of ``page_rows`` that ``rows`` rows fill; an empty table is one (empty) page."""
    return max(1, math.ceil(rows / page_rows))


Item = TypeVar("Item")


def folded(items: Sequence[Item], max_shown: int, head: int) -> list[Item | int]:
    """``items`` for a long column of boxes: all of them up to ``max_shown``, else the first
    ``head``, the number left out (an int, drawn as "⋮ n more"), and the last."""
    if len(items) <= max_shown:
        return list(items)
    return [*items[:head], len(items) - head - 1, items[-1]]


def format_shape(shape: Sequence[int], separator: str = "x") -> str:
    """(64, 56, 56) -> "64x56x56"; charts and captions pass "×"."""
    return separator.join(str(side) for side in shape)


def format_value(value: object) -> object:
    """A cell for people and CSV: shapes as ``64x56x56``, pairs as ``3x3``, flags as "yes"/empty.

    None stays None (an empty cell in a dataframe; the CSV writer prints it as nothing).
    """
    if value is None or value is False:
        return None
    if value is True:
        return "yes"
    if isinstance(value, enum.Enum):  # a `ShortcutKind`: its English word
        return value.value
    if isinstance(value, tuple):
        return format_shape(value)
    return value


def records(rows: Iterable[TableRow], columns: Sequence[Column]) -> list[dict[str, object]]:
    """Rows as dicts keyed by column label, values formatted for display and CSV."""
    fields = [(c.label, c.value) for c in columns]  # a label is said in the reader's language: once, not per cell
    return [{label: format_value(getattr(row, value)) for label, value in fields} for row in rows]


# Words a cell of these columns may hold: in the reader's language on screen, English in files.
WORDED_COLUMNS = (Column.DOWNSAMPLE, Column.SHORTCUT)
CELL_WORDS = {
    "yes": N_("yes"),
    ShortcutKind.NONE.value: N_("none"),
    **{kind.value: style.word for kind, style in SHORTCUT_STYLES.items()},
}


def cell_word(value: object) -> object:
    """A cell word ("yes", "identity", "projection" …) in the reader's language; any other value as it is."""
    return _(CELL_WORDS[value]) if value in CELL_WORDS else value


def screen_records(rows: Iterable[TableRow], columns: Sequence[Column]) -> list[dict[str, object]]:
    """`records` for a screen: the words of `WORDED_COLUMNS` in the reader's language (`cell_word`)."""
    worded = {c.label for c in columns if c in WORDED_COLUMNS}
    return [{label: cell_word(value) if label in worded else value for label, value in record.items()}
            for record in records(rows, columns)]


def to_csv(rows: Iterable[TableRow], columns: Sequence[Column]) -> str:
    """The CSV text of exactly these rows and columns (the page's download, the CLI's --csv)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.label for c in columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(rows, columns))
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def table_json(table: LayerTable, level: Level) -> dict[str, Any]:
    """``{"spec", "totals", "level", "rows"}`` with plain integers and lists, for scripts (the CLI's --json)."""
    totals = {key: _plain(value) for key, value in asdict(table.totals).items()}
    totals["flops"] = table.totals.flops
    return {
        "spec": {"name": table.spec.name, "depth": table.spec.depth, **table.spec.to_dict()},
        "totals": totals,
        "level": level.value,
        "rows": [{k: _plain(v) for k, v in asdict(row).items()} for row in table.rows_at(level)],
    }


def human_count(value: float, unit: str = "") -> str:
    """12,345,678 -> "12.35 M"; for totals shown to people (tables keep exact integers)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:g} {unit}".rstrip()


def human_bytes(value: float) -> str:
    """Bytes in binary units: 102760448 -> "98.0 MiB"."""
    for factor, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.1f} {prefix}"
    return f"{math.floor(value)} B"


@dataclass(frozen=True)
class RowsTable:
    """One table as a page shows it: column labels in order, one dict per row (label -> cell),
    and the columns shown with a fixed number of decimals (label -> places)."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, object], ...]
    decimals: Mapping[str, int] = field(default_factory=dict)
