"""How the Feature maps page colours a grid of maps: per channel, per layer or across every captured layer."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

from explorer.runtime.i18n import N_, _

if TYPE_CHECKING:
    from explorer.analysis.activations import Activation


class ColourScale(str, enum.Enum):
    """How a grid of maps is coloured; the value is what the page's radio keeps in its state."""

    PER_CHANNEL = "per channel"  # each channel stretched to its own min–max
    PER_LAYER = "per layer"  # one range for all channels of the layer
    GLOBAL = "global"  # one range for every captured layer

    @property
    def label(self) -> str:
        """The mode's name, in the reader's language."""
        return _(_SCALE_WORDS[self][0])

    @property
    def meaning(self) -> str:
        """What the mode does, in the reader's language."""
        return _(_SCALE_WORDS[self][1])


_SCALE_WORDS = {
    ColourScale.PER_CHANNEL: (N_("per channel"), N_("each channel stretched to its own min–max")),
    ColourScale.PER_LAYER: (N_("per layer"), N_("one range for all channels of this layer")),
    ColourScale.GLOBAL: (N_("global"), N_("one range for every captured layer")),
}


def value_range(activations: Sequence[Activation], selected: Activation, scale: ColourScale) -> tuple[float, float]:
    """The colour range of a grid: every captured layer's for the global scale, else the
    selected layer's (a grid coloured per channel stretches each channel to its own range anyway)."""
    if scale is ColourScale.GLOBAL:
        return min(a.minimum for a in activations), max(a.maximum for a in activations)
    return selected.minimum, selected.maximum
