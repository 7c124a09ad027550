"""Receptive fields: the input box an output position can see, and the part of it that counts.

The *theoretical* receptive field of one output position is the set of input pixels it
depends on at all. It is found here by walking the real module tree backward as index maps
(`index_maps`): each conv or pool maps a set of output indices to the input indices its
windows touch, clipped to the tensor (padding is no pixel), and a residual block takes the
union of its main path and its shortcut (identity, projection, avg-pool projection or
zero-pad); Res2Net's channel groups are paths of their own, joined the same way. Channel gates
(SE, ECA, split attention's weights) pool the whole map: as in the layer table, they are no
part of the window, which follows the feature maps' path. Rows and columns are walked apart,
as every layer is separable in this sense. Sets of indices, not intervals, are carried, so the box is exact by construction even where
a strided 1x1 conv or a dilated conv reads only every other pixel. Without clipping, the box's side is the layer table's receptive field and
neighbouring positions move by its jump (Araujo et al. 2019,
https://distill.pub/2019/computing-receptive-fields/).

The *effective* receptive field (Luo et al. 2016, https://arxiv.org/abs/1701.04128) is how
much each input pixel actually moves that output: the gradient of the output position with
respect to the image. It is much smaller than the theoretical one and roughly Gaussian.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from explorer.analysis.anatomy import LayerTable
from explorer.analysis.memory_needs import LOWER_SIZE, reserved, size_text
from explorer.analysis.index_maps import Step, module_steps, out_side, sources, stem_modules
from explorer.model.build import build_model
from explorer.runtime.i18n import _
from explorer.model.views import leased_view
from explorer.model.spec import ResNetSpec, check_input_size

STEM = "stem"
EFFECTIVE_MASS = 0.95  # the share of the gradient `effective_size` counts


@dataclass(frozen=True)
class InputBox:
    """Input pixels from row ``top`` to ``bottom`` and column ``left`` to ``right``, all inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def side(self) -> int:
        """The longer side: a receptive field's size, pixels."""
        return max(self.height, self.width)

    @property
    def centre(self) -> tuple[float, float]:
        """(row, column) of the box's middle; halves where a side is even."""
        return (self.top + self.bottom) / 2, (self.left + self.right) / 2


@lru_cache(maxsize=64)
def _stage_steps(spec: ResNetSpec, axis: int) -> dict[str, tuple[Step, ...]]:
    """Every stage's index maps along ``axis``: "stem" (conv1 … maxpool), "layer1" …"""
    model = build_model(spec, "meta")  # module geometry only: no weights, nothing shared
    stem = tuple(step for child in stem_modules(model) for step in module_steps(child, axis))
    return {STEM: stem, **{name: module_steps(model.get_submodule(name), axis) for name in model.stage_names}}


def field_stages(spec: ResNetSpec) -> tuple[str, ...]:
    """The stages a receptive field can be asked for: "stem", "layer1" … "layerN"."""
    return (STEM, *spec.stage_names)


def _check_stage(spec: ResNetSpec, stage: str) -> None:
    names = field_stages(spec)
    if stage not in names:
        raise ValueError(_("{stage!r} is not a stage of {model}: choose one of {stages}.").format(
            stage=stage, model=spec.name, stages=", ".join(names)))


def _up_to(spec: ResNetSpec, stage: str, axis: int) -> tuple[Step, ...]:
    """The index maps from the image to the output of ``stage``."""
    steps: list[Step] = []
    for name, stage_steps in _stage_steps(spec, axis).items():
        steps += stage_steps
        if name == stage:
            return tuple(steps)
    raise AssertionError(stage)  # `_check_stage` ran first


def stage_map_size(spec: ResNetSpec, stage: str, input_size: int | tuple[int, int]) -> tuple[int, int]:
    """(rows, columns) of ``stage``'s output for an image of ``input_size`` pixels."""
    _check_stage(spec, stage)
    size = check_input_size(spec, input_size)
    rows, columns = (out_side(_up_to(spec, stage, axis), size[axis]) for axis in (0, 1))
    return rows, columns


def theoretical_receptive_field(spec: ResNetSpec, stage: str, position: tuple[int, int],
                                input_size: int | tuple[int, int], clip: bool = True) -> InputBox:
    """The input box that output ``position`` (row, column) of ``stage`` depends on, in pixels.

    Inclusive and clipped to the image; ``clip=False`` gives the whole window as if the image
    had no border (its side is the layer table's ``rf_size``; it may start below 0).
    Raises ValueError for an unknown stage or a position outside the stage's map.
    """
    size = check_input_size(spec, input_size)
    row, column = _check_position(position, stage, *stage_map_size(spec, stage, size))
    spans = []
    for axis, index in ((0, row), (1, column)):
        pixels = sources(_up_to(spec, stage, axis), np.array([index]), size[axis], clip)
        spans.append((int(pixels.min()), int(pixels.max())))
    (top, bottom), (left, right) = spans
    return InputBox(top, left, bottom, right)


def head_field_note(table: LayerTable) -> str:
    """Why the layer table's head rows show a wider receptive field than its total, in the reader's language.

    The total (`Totals.rf_size`) is the window of one position of the last stage's map. The
    global average pool takes every position of that map, so the pooled features (and the fc)
    depend on the union of all their windows: one window plus (H − 1) jumps along the height,
    as `anatomy` counts it. That is wider than the input; the rest of it is zero padding.
    """
    last = next(s for s in reversed(table.stages) if s.name not in (STEM, "head"))
    height, width = last.out_shape[1:]
    return _("The receptive field (RF) is the input window one output position sees. The total, {rf} px, is "
             "one position of the last stage's {height}×{width} map; the head's global average pool takes all "
             "of its positions, {jump} px apart, so its rows show {rf} + ({height} − 1) × {jump} = {head} px, "
             "wider than the input: the rest is zero padding.").format(
        rf=last.rf_size, height=height, width=width, jump=last.rf_jump, head=table.stages[-1].rf_size)


def _check_position(position: Sequence[int], stage: str, rows: int, columns: int) -> tuple[int, int]:
    if (not isinstance(position, (tuple, list)) or len(position) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in position)):
        raise ValueError(_("A position is two whole numbers (row, column), got {position!r}.").format(position=position))
    row, column = int(position[0]), int(position[1])
    if not (0 <= row < rows and 0 <= column < columns):
        raise ValueError(_("Position ({row}, {column}) is outside {stage}'s {rows}×{columns} map: "
                           "rows go from 0 to {last_row} and columns from 0 to {last_column}.").format(
            row=row, column=column, stage=stage, rows=rows, columns=columns, last_row=rows - 1, last_column=columns - 1))
    return row, column


# ---- the effective receptive field --------------------------------------------------------


def _stage_outputs(view: nn.Module, x: torch.Tensor, last: str) -> dict[str, torch.Tensor]:
    """The outputs of "stem", "layer1" … up to ``last``, of a forward that stops there."""
    for module in stem_modules(view):
        x = module(x)  # (1, stem_width, h, w) after the maxpool
    outputs = {STEM: x}
    for name in view.stage_names:
        if last in outputs:
            break
        x = outputs[name] = view.get_submodule(name)(x)  # (1, C, h, w)
    return outputs


def _gradient_fields(model: nn.Module, spec: ResNetSpec, image: torch.Tensor,
                     requests: Sequence[tuple[str, tuple[int, int]]]) -> list[np.ndarray]:
    """The normalised input gradient of each (stage, position), from one forward pass."""
    parameter = next(model.parameters())
    last = max((stage for stage, _position in requests), key=field_stages(spec).index)
    fields = []
    size = (image.shape[1], image.shape[2])
    what = _("The receptive field of {model}'s {stage} at {size} px").format(model=spec.name, stage=last,
                                                                             size=size_text(size))
    # Kept for the backward to the input, and their gradients: twice the activations up to the stage.
    with reserved(spec, size, parameter.device, what, LOWER_SIZE, activations=2.0, through=last), \
            leased_view(model, spec) as view, torch.enable_grad():
        x = image.unsqueeze(0).to(parameter.device, parameter.dtype).requires_grad_(True)  # (1, C, H, W)
        outputs = _stage_outputs(view, x, last)
        for stage, (row, column) in requests:
            (gradient,) = torch.autograd.grad(outputs[stage][0, :, row, column].sum(), x, retain_graph=True)
            field = gradient[0].abs().sum(dim=0)  # (H, W)
            peak = field.max()
            fields.append((field / peak if peak > 0 else field).detach().cpu().numpy())
    return fields


def _resolved(spec: ResNetSpec, stage: str, position: tuple[int, int] | None,
              input_size: tuple[int, int]) -> tuple[int, int]:
    """``position`` checked against the stage's map; None becomes the map's centre."""
    rows, columns = stage_map_size(spec, stage, input_size)
    return (rows // 2, columns // 2) if position is None else _check_position(position, stage, rows, columns)


def effective_receptive_field(model: nn.Module, spec: ResNetSpec, stage: str, image: torch.Tensor,
                              position: tuple[int, int] | None = None) -> np.ndarray:
    """How strongly each input pixel moves one output position: a (H, W) array in [0, 1], max 1.

    The absolute gradient of the sum over channels of ``stage``'s output at ``position``
    (row, column; default the map's centre) with respect to ``image`` (C, H, W), summed over
    the input channels, divided by its maximum (Luo et al. 2016,
    https://arxiv.org/abs/1701.04128). It is zero outside `theoretical_receptive_field`, except
    in a net with channel gates (SE, ECA, split attention), whose global pools let every pixel
    move the gate a little: the window follows the feature maps' path, not the gates.
    Runs on a private view of ``model`` in eval mode (the shared model gets no hooks and no
    gradients), in the model's dtype.
    """
    position = _resolved(spec, stage, position, check_input_size(spec, tuple(image.shape[1:])))
    return _gradient_fields(model, spec, image, [(stage, position)])[0]


def _effective_square(field: np.ndarray, centre: tuple[int, int] | None, mass: float) -> InputBox | None:
    """The smallest square around ``centre`` (default: the peak) holding ``mass`` of the field,
    cut by the image's border; None for a field of zeros."""
    total = float(field.sum())
    if total <= 0:
        return None
    height, width = field.shape
    row, column = np.unravel_index(int(np.argmax(field)), field.shape) if centre is None else centre
    summed = np.zeros((height + 1, width + 1))
    summed[1:, 1:] = field.astype(np.float64).cumsum(0).cumsum(1)  # summed-area table
    reach = 0
    while True:
        top, bottom = max(row - reach, 0), min(row + reach + 1, height)
        left, right = max(column - reach, 0), min(column + reach + 1, width)
        inside = summed[bottom, right] - summed[top, right] - summed[bottom, left] + summed[top, left]
        if inside >= mass * total or (top, left, bottom, right) == (0, 0, height, width):
            return InputBox(int(top), int(left), int(bottom) - 1, int(right) - 1)
        reach += 1


def effective_size(field: np.ndarray, centre: tuple[int, int] | None = None, mass: float = EFFECTIVE_MASS) -> int:
    """Side in pixels of the smallest square centred on ``centre`` that holds ``mass`` of ``field``'s sum.

    ``centre`` is a (row, column) pixel, by default the field's peak. A square reaching r
    pixels from the centre has side 2r + 1; where the image's border cuts it, the longer side
    of what is left inside counts (at a corner, r + 1). 0 for a field of zeros.
    """
    square = _effective_square(field, centre, mass)
    return 0 if square is None else square.side


@dataclass(frozen=True)
class ReceptiveField:
    """What one output position sees: the theoretical box and the effective field over it."""

    stage: str
    position: tuple[int, int]  # (row, column) on the stage's map
    box: InputBox  # the theoretical receptive field, clipped to the image
    window: InputBox  # the same without the image's border: its side is the layer table's rf size
    effective: np.ndarray  # (H, W) in [0, 1]: `effective_receptive_field`
    # The square of `effective_size` around the window's centre; None where the gradient is
    # zero everywhere (every ReLU on the way is off at this position).
    effective_box: InputBox | None

    @property
    def effective_size(self) -> int:
        """The longer side of the effective square, pixels (see `effective_size`); 0 without one."""
        return 0 if self.effective_box is None else self.effective_box.side

    @property
    def theoretical_size(self) -> int:
        """The longer side of the box, pixels."""
        return self.box.side

    @property
    def window_size(self) -> int:
        """The longer side of the window (the layer table's rf size), pixels."""
        return self.window.side


def receptive_fields(model: nn.Module, spec: ResNetSpec, image: torch.Tensor,
                     requests: Sequence[tuple[str, tuple[int, int] | None]]) -> tuple[ReceptiveField, ...]:
    """A `ReceptiveField` for each (stage, position) of ``image`` (C, H, W), from one forward pass.

    A position of None is the centre of the stage's map. The effective size is measured
    around the centre of the theoretical window (moved inside the image), where the paper
    finds the effective field's Gaussian peak.
    """
    input_size = check_input_size(spec, tuple(image.shape[1:]))
    resolved = [(stage, _resolved(spec, stage, position, input_size)) for stage, position in requests]
    fields = _gradient_fields(model, spec, image, resolved)
    out = []
    for (stage, position), field in zip(resolved, fields):
        window = theoretical_receptive_field(spec, stage, position, input_size, clip=False)
        centre = tuple(min(max(int(c), 0), side - 1) for c, side in zip(window.centre, input_size))
        box = theoretical_receptive_field(spec, stage, position, input_size)
        out.append(ReceptiveField(stage, position, box, window, field, _effective_square(field, centre, EFFECTIVE_MASS)))
    return tuple(out)


def stage_centre_fields(model: nn.Module, spec: ResNetSpec, image: torch.Tensor) -> tuple[ReceptiveField, ...]:
    """The receptive field of every stage's centre position: how both sizes grow with depth."""
    return receptive_fields(model, spec, image, [(stage, None) for stage in field_stages(spec)])
