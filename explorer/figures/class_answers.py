"""How a class answered a quick-check question: one bar per choice, the right one green once revealed."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explorer.figures.layout import plotly_text, unchecked_figure
from explorer.runtime.i18n import _

LETTERS = "ABCDEF"  # a choice's letter, as the students' buttons show it
NEUTRAL_COLOUR = "#2980b9"  # before the answer is revealed: no bar stands out
RIGHT_COLOUR = "#27ae60"
WRONG_COLOUR = "#bdbdbd"
HEIGHT = 260  # px: fits the sidebar or half a page beside the question
CHOICE_LIMIT = 48  # characters of a choice on its bar's label (a long block list is cut with "…")


def answers_histogram(choices: Sequence[str], counts: Sequence[int], answer: int | None) -> go.Figure:
    """The class's answers as horizontal bars, choice A on top, each count at its bar's end.

    ``answer`` (the right choice's index) colours the bars once the teacher reveals it; None
    keeps them all one colour, so the chart gives nothing away while students still answer.
    Redrawn at every refresh of the room, so built unchecked (`unchecked_figure`).
    """
    if len(choices) != len(counts) or len(choices) > len(LETTERS):
        raise ValueError(f"{len(choices)} choices and {len(counts)} counts: give one count per choice "
                         f"(at most {len(LETTERS)} choices)")
    labels = [f"{LETTERS[i]}  {plotly_text(choice, CHOICE_LIMIT)}" for i, choice in enumerate(choices)]
    if answer is None:
        colours = [NEUTRAL_COLOUR] * len(choices)
    else:
        colours = [RIGHT_COLOUR if i == answer else WRONG_COLOUR for i in range(len(choices))]
    total = sum(counts)
    title = _("1 answer") if total == 1 else _("{n} answers").format(n=total)
    bars = {"type": "bar", "orientation": "h", "x": list(counts), "y": labels, "marker": {"color": colours},
            "text": [str(c) for c in counts], "textposition": "outside", "cliponaxis": False,
            "hovertemplate": "%{y}: %{x}<extra></extra>"}
    return unchecked_figure([bars], {
        "height": HEIGHT, "margin": {"l": 10, "r": 30, "t": 40, "b": 10},
        "title": {"text": title, "font": {"size": 14}},
        "xaxis": {"visible": False, "range": [0, max([*counts, 1]) * 1.15]},
        "yaxis": {"autorange": "reversed", "automargin": True, "type": "category"},
        "showlegend": False})
