"""The shortcut of a residual block, as a type, and how every view draws and names it.

A block's shortcut (`BlockRow.shortcut`) is one `ShortcutKind`; `SHORTCUT_STYLES` is the one
place that says its colour, its line and its words, for the block diagram, the paper's
Figure 3, the table cells and the page captions. The paper draws identity shortcuts solid and
projections dashed (He et al. 2016, Fig. 3, https://arxiv.org/abs/1512.03385).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from explorer.runtime.i18n import N_, _


class ShortcutKind(str, enum.Enum):
    """What a block's shortcut computes; the value is the word of the CSV/JSON exports."""

    IDENTITY = "identity"  # x itself
    PROJECTION = "projection"  # 1x1 conv + BN (option B / C)
    AVG_PROJECTION = "avg-pool projection"  # avg pool, then a stride-1 1x1 conv + BN (ResNet-D)
    ZERO_PAD = "zero-pad"  # x subsampled and padded with zero channels (option A)
    NONE = "none"  # a plain network's block: no shortcut at all

    @property
    def computed(self) -> bool:
        """The shortcut computes something: a layer of its own in the layer table."""
        return self in (ShortcutKind.PROJECTION, ShortcutKind.AVG_PROJECTION, ShortcutKind.ZERO_PAD)

    @property
    def style(self) -> ShortcutStyle | None:
        """How the shortcut is drawn; None for a plain block, which has nothing to draw."""
        return SHORTCUT_STYLES.get(self)

    @property
    def output(self) -> str:
        """What a block with this shortcut outputs: "relu(x + F(x))", "relu(W_s·x + F(x))", "relu(F(x))"."""
        return f"relu({self.style.formula} + F(x))" if self.style else "relu(F(x))"


@dataclass(frozen=True)
class ShortcutStyle:
    """One drawn shortcut kind's look and words (the words marked `N_()`, shown through `_()`)."""

    colour: str  # "#rrggbb"
    dash: str  # plotly's dash name: "solid", "dash", "dashdot" or "dot"
    line: str  # the dash in words, for captions: "solid", "dashed" …
    legend: str  # "identity shortcut"
    word: str  # a table cell: "projection"
    formula: str  # what the shortcut adds to F(x), in the paper's notation (eq. 2: W_s·x); the same in every language


SHORTCUT_STYLES = {
    ShortcutKind.IDENTITY: ShortcutStyle("#2c3e50", "solid", N_("solid"), N_("identity shortcut"), N_("identity"), "x"),
    ShortcutKind.PROJECTION: ShortcutStyle("#d35400", "dash", N_("dashed"), N_("projection shortcut (1x1 conv, then BN unless pre-activation)"),
                                           N_("projection"), "W_s·x"),
    ShortcutKind.AVG_PROJECTION: ShortcutStyle("#8e44ad", "dashdot", N_("dash-dotted"),
                                               N_("avg-pool + 1x1 projection (V1d)"), N_("avg-pool projection"),
                                               "W_s·avgpool(x)"),
    ShortcutKind.ZERO_PAD: ShortcutStyle("#16a085", "dot", N_("dotted"), N_("zero-padded identity (option A)"),
                                         N_("zero-pad"), "pad(x)"),
}


def drawn_kinds(kinds: Iterable[ShortcutKind | None]) -> tuple[ShortcutKind, ...]:
    """The drawn kinds among ``kinds``, once each, in `SHORTCUT_STYLES` order (the legends' order)."""
    present = set(kinds)
    return tuple(kind for kind in SHORTCUT_STYLES if kind in present)


def line_key(kinds: Iterable[ShortcutKind | None]) -> str:
    """"solid: identity shortcut · dashed: projection shortcut (1x1 conv, …)" for the kinds that
    occur, in the reader's language: a caption under a drawing of them."""
    return " · ".join(_("{line}: {legend}").format(line=_(SHORTCUT_STYLES[kind].line),
                                                   legend=_(SHORTCUT_STYLES[kind].legend))
                      for kind in drawn_kinds(kinds))
