"""The receptive-field view (Feature maps; Compare for each model): a position's theoretical box
and effective field over the picture, and both sizes per stage."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import streamlit as st

from explorer.analysis.receptive_field import (
    EFFECTIVE_MASS, receptive_fields, stage_centre_fields, stage_map_size, field_stages,
)
from explorer.figures.rasters import receptive_field_picture
from explorer.figures.receptive_field import receptive_field_sizes
from explorer.model.spec import ResNetSpec
from explorer.runtime.memory import DoesNotFit
from explorer.runtime.i18n import _
from explorer.ui.choices import clamped_number, valid_choice
from explorer.ui.session_memo import remembered

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from torch import nn


def _position_slider(box, label: str, count: int, key: str) -> int:
    """A slider over 0 … count - 1, starting in the middle; a map one position wide needs none.

    A position kept from a larger map (another input size) moves to the map's edge."""
    if count == 1:
        box.caption(_("{label}: 0 (the map has one)").format(label=label))
        return 0
    clamped_number(key, 0, count - 1, count // 2)
    return box.slider(label, 0, count - 1, key=key)


def receptive_field_view(prefix: str, model: nn.Module, spec: ResNetSpec, image: torch.Tensor,
                         picture: Image.Image, memo_key: Hashable) -> None:
    """Pick a stage and a position on its map; see the theoretical box and the effective field
    over ``picture`` (``image``, the model's input, before normalisation), and both sizes per stage.

    ``prefix`` keeps the widget keys of two views on one page apart; ``memo_key`` names
    ``model`` and ``image`` (weights, picture, preprocessing), so this session computes each
    field once.
    """
    input_size = tuple(image.shape[1:])
    names = field_stages(spec)
    pick, rows_box, columns_box = st.columns([2, 3, 3])
    # The middle stage first: its box is well inside a picture of the natural size.
    valid_choice(f"{prefix}_rf_stage", names, names[len(names) // 2])
    stage = pick.selectbox(_("Stage"), names, key=f"{prefix}_rf_stage")
    rows, columns = stage_map_size(spec, stage, input_size)
    row_label = _("Row of {stage}'s {rows}×{columns} map").format(stage=stage, rows=rows, columns=columns)
    row = _position_slider(rows_box, row_label, rows, f"{prefix}_rf_row_{stage}")
    column = _position_slider(columns_box, _("Column"), columns, f"{prefix}_rf_column_{stage}")
    try:
        with st.spinner(_("The gradient of {stage} at ({row}, {column}) with respect to every input pixel…").format(
                stage=stage, row=row, column=column)):
            (found,) = remembered(f"{prefix}_rf_field", (memo_key, stage, row, column),
                                  lambda: receptive_fields(model, spec, image, [(stage, (row, column))]),
                                  max_entries=16)
        with st.spinner(_("The receptive field of every stage's centre…")):
            centres = remembered(f"{prefix}_rf_centres", memo_key, lambda: stage_centre_fields(model, spec, image))
    except DoesNotFit as error:  # refused before the backward: too big at this input size
        st.error(str(error))
        return
    left, right = st.columns(2)
    left.image(receptive_field_picture(picture, found.effective, found.box, found.effective_box),
               width="stretch", caption=_("cyan: theoretical box · reds: effective field (square root of the gradient) "
                                          "· white: the square holding {mass:.0%} of it").format(mass=EFFECTIVE_MASS))
    box, window = found.box, found.window
    place = {"stage": stage, "row": row, "column": column, "top": box.top, "bottom": box.bottom, "left": box.left,
             "right": box.right, "height": box.height, "width": box.width, "effective": found.effective_size}
    if (box.height, box.width) != (window.height, window.width):
        seen = _("**{stage} ({row}, {column})** sees input rows {top}–{bottom} and columns {left}–{right}: a "
                 "{height}×{width} px box (its {window_height}×{window_width} px window is cut by the image's "
                 "border). Effective size: {effective} px.").format(**place, window_height=window.height,
                                                                     window_width=window.width)
    else:
        seen = _("**{stage} ({row}, {column})** sees input rows {top}–{bottom} and columns {left}–{right}: a "
                 "{height}×{width} px box. Effective size: {effective} px.").format(**place)
    left.caption(seen)
    right.plotly_chart(receptive_field_sizes(centres, _("{model}: receptive field of each stage's centre").format(
        model=spec.name)), key=f"{prefix}_rf_sizes", width="stretch")
    right.caption(_("Effective size: the side of the smallest square around the window's centre that holds "
                    "{mass:.0%} of the absolute input gradient. Luo et al. 2016 find the effective field "
                    "Gaussian and a fraction of the theoretical window (dotted): it grows like the square root "
                    "of depth, the window linearly.").format(mass=EFFECTIVE_MASS))
