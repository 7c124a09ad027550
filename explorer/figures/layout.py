"""What the plotly figures share: titles that wrap (Chinese too), plain log axes, the legend's place.

Every text a figure shows is in the reader's language: the figure functions run in the
session's script thread, where `_()` speaks the session's language; texts defined at import
time are marked with `N_()` and translated where they are drawn.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Sequence

import plotly.graph_objects as go

# Legends sit at the foot of the figure, under the axis labels, so that they never cover a
# title however many rows they wrap to (the figure's bottom margin grows to hold them).
LEGEND_AT_FOOT = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"}


WIDE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")  # CJK characters and full-width punctuation
# Chinese punctuation that may not start a line.
NO_LINE_START = "，。：；、）》」』？！…"
BREAK_AFTER = "，。：；、）？！ "  # where a Chinese title breaks best


LABEL_LIMIT = 80  # characters of a label from outside (a class name): the chart keeps its shape


def unchecked_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain dicts that plotly does not check property by property.

    For the charts drawn on every click: plotly validates each property as it builds a
    figure (~20 ms for a four-panel chart, most of a layer click's time on the server). These
    are built from literals, and a test builds each through plotly's checks as well.
    """
    return go.Figure(data, layout, _validate=False)


def plotly_text(text: object, limit: int = LABEL_LIMIT) -> str:
    """Text from outside the app (a class name from a checkpoint, a file name) for a plotly label,
    title or hover text: plotly draws a subset of HTML there (``<a href>`` becomes a live link,
    ``<br>`` a break), so ``&``, ``<`` and ``>`` become entities, which it shows as the characters.
    Cut to ``limit`` characters with "…"."""
    plain = str(text)
    if len(plain) > limit:
        plain = plain[: max(limit - 1, 0)] + "…"
    return html.escape(plain, quote=False)


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
