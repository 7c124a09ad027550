"""Tables for st.dataframe and the sidebar's one-line summaries of a model."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from explorer.analysis.anatomy import LayerTable, layer_table
from explorer.analysis.table_format import RowsTable, human_bytes, human_count
from explorer.runtime.devices import describe_device
from explorer.runtime.i18n import _
from explorer.ui.picker import ModelChoice
from explorer.ui.text import inert_error


def table_or_error(choice: ModelChoice, box=None) -> LayerTable | None:
    """The layer table, or None after a clear st.error (e.g. an input smaller than the stride)."""
    try:
        return layer_table(choice.spec, choice.input_size)
    except ValueError as error:
        (box or st).error(inert_error(error))
        return None


def glance(table: LayerTable, box=None) -> None:
    """One line with the numbers a teacher wants first."""
    t = table.totals
    (box or st.sidebar).caption(_(
        "**{model}** · depth {depth} · {params} params · {macs} MACs · {activations} activations at {size} px"
    ).format(model=table.spec.name, depth=t.depth, params=human_count(t.params), macs=human_count(t.macs),
             activations=human_bytes(t.activation_bytes), size=t.input_size[0]))


def device_caption(box=None) -> None:
    (box or st.sidebar).caption(_("Compute device: {device}").format(device=describe_device().label))


def display_frame(rows: list[dict[str, object]], columns: list[str]):
    """A DataFrame for st.dataframe: a column with gaps becomes text with blanks, not "None"."""
    gappy = {name for name in columns if any(row[name] is None for row in rows)}
    return pd.DataFrame(
        [{name: ("" if row[name] is None else str(row[name])) if name in gappy else row[name] for name in columns}
         for row in rows],
        columns=columns,
    )


def number_columns(frame) -> dict[str, object]:
    """Column config that shows integer columns with thousands separators, each wide enough for its
    longest number and its heading (Streamlit sizes a column by its first rows, so a long negative
    difference further down would lose its sign)."""
    return {
        name: st.column_config.NumberColumn(format="localized", width=_text_width(
            [str(name), *(f"{value:,}" for value in frame[name] if value == value)], 7.0, 20))  # == itself: not NaN
        for name, dtype in frame.dtypes.items()
        if dtype.kind in "iuf"
    }


def _text_width(texts: Iterable[str], per_character: float = 7.5, padding: int = 28) -> int:
    """Pixels a column needs for the longest of ``texts`` in the table's font, with its padding."""
    return int(per_character * max((len(text) for text in texts), default=4)) + padding


def name_column(names: Iterable[str]):
    """A pinned column as wide as the longest name, so that no layer name is cut (Streamlit
    sizes a column by its first rows; ``layer1.0.downsample.0`` comes later)."""
    return st.column_config.TextColumn(pinned=True, width=_text_width(names))


SHOWN_ROWS = 20  # a short table's rows all show; a longer one scrolls


def show_table(table: RowsTable, box=None) -> None:
    """``table`` as an st.dataframe: integers with thousands separators, its decimal columns fixed."""
    frame = display_frame(list(table.rows), list(table.columns))
    places = {name: st.column_config.NumberColumn(format=f"%.{count}f") for name, count in table.decimals.items()}
    # Every row in sight up to `SHOWN_ROWS` (Streamlit's own height stops at 10: a total row below them hid).
    height = 35 * (min(len(frame), SHOWN_ROWS) + 1) + 3
    (box or st).dataframe(frame, hide_index=True, width="stretch", height=height,
                          column_config={**number_columns(frame), **places})
