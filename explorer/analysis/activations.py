"""Capture a ResNet's activations for one image without touching the shared model.

Hooks go on a private view of the model (`model_views.leased_view`), never on the model
that every session shares.

Captured tensors are copies taken when a module returns, so torchvision's in-place
``out += identity`` and in-place ReLUs cannot change them afterwards, and each call of a
reused module (BasicBlock's ``relu``) is its own entry. They are stored on the CPU as
float16; statistics are computed in float32 first. Below the capture: what the Feature
maps page needs to browse the maps (channel ranking and pages, colour ranges, a block's
residual parts, downloads, the first conv's filters), as plain functions of the maps.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from explorer.analysis.anatomy import layer_table
from explorer.analysis.memory_needs import LOWER_SIZE, memory_need, size_text
from explorer.analysis.shortcuts import ShortcutKind
from explorer.model.blocks import gate_module_names
from explorer.model.build import build_model, residual_branch_end
from explorer.runtime.i18n import _
from explorer.runtime.memory import RESERVATIONS
from explorer.data.images import Preprocessing
from explorer.model.views import leased_view
from explorer.model.spec import ResNetSpec
from explorer.analysis.table_format import format_shape
from explorer.model.sources import ModelSource

FP16_BYTES = 2
FP16_MAX = 65504.0
DEFAULT_BUDGET_MB = 1024
CHANNELS_PER_PAGE = 64  # one page of the channel grid: 8 x 8 tiles
TOP_K_DEFAULT = 16  # channels shown first: two rows of the grid
SHORTCUT, BRANCH, GATE = "shortcut", "residual branch F(x)", "gate"  # the roles of a block's residual parts


def capture_budget() -> int:
    """Bytes a capture may use: ``EXPLORER_CAPTURE_BUDGET_MB`` (default 1024 MiB), read per call."""
    return int(os.environ.get("EXPLORER_CAPTURE_BUDGET_MB", DEFAULT_BUDGET_MB)) * 2**20


class CaptureTooLarge(ValueError):
    """The requested activations would exceed the memory budget; the message says what to do.

    It holds numbers, and its message is written when read, in the reader's language: a capture
    shared by the class may raise it in another thread, for sessions in either language.
    """

    def __init__(self, count: int, needed_bytes: int, budget_bytes: int) -> None:
        super().__init__(count, needed_bytes, budget_bytes)
        self.count, self.needed_bytes, self.budget_bytes = count, needed_bytes, budget_bytes

    def __str__(self) -> str:
        return _("Capturing {count} maps needs {needed:,.0f} MiB, above the budget of {budget:,.0f} MiB. "
                 "Capture block outputs only, or use a smaller input size.").format(
            count=self.count, needed=self.needed_bytes / 2**20, budget=self.budget_bytes / 2**20)


@dataclass(frozen=True)
class CapturePoint:
    """One tensor to capture, named and placed for the page's layer picker."""

    key: str  # unique: "stem", "layer2.0", "layer2.0.relu_1", "layer2.0:shortcut", ...
    module: str  # module to hook ("" for none)
    call: int  # which call of that module (BasicBlock's relu is called twice)
    pre: bool  # capture the module's input instead of its output
    role: str  # "stem", "block output", BRANCH, SHORTCUT, "layer"
    stage: str
    block: int | None
    shape: tuple[int, int, int]  # (C, H, W) of one image
    # What `label` names besides the role: the module type of a "layer" ("Conv2d"), the shortcut
    # of a SHORTCUT or a "block output" ("identity", "projection", …; "none" in a plain block).
    kind: str = ""
    preact: bool = False  # a pre-activation block's output: x + F(x), no ReLU after the add
    gate: bool = False  # computes a gate's numbers (C, 1, 1) on a side branch, not a map of the block's path

    @property
    def output_text(self) -> str:
        """What a block output is: "relu(x + F(x))", or "x + F(x)" for a pre-activation block."""
        kind = ShortcutKind(self.kind)
        return f"{kind.style.formula} + F(x)" if self.preact and kind.style else kind.output

    @property
    def is_vector(self) -> bool:
        """One number per channel (a gate's pooled or squeezed values, (C, 1, 1)): drawn as bars, not maps.

        A map that is 1×1 because the input is small stays a map."""
        return self.gate or self.role == GATE

    @property
    def label(self) -> str:
        """The picker's name of the point, in the reader's language: "layer2.0 · block output relu(x + F(x)) · 128×28×28".

        Written when read (never stored): captures are shared by sessions in either language.
        """
        shape = format_shape(self.shape, "×")
        if self.role == "stem":
            return _("{key} · output · {shape}").format(key=self.key, shape=shape)
        if self.role == "layer":
            if self.call:  # "layer1.0.relu_1 · ReLU (call 2) · 64×56×56"
                return _("{key} · {type} (call {call}) · {shape}").format(key=self.key, type=self.kind,
                                                                         call=self.call + 1, shape=shape)
            return f"{self.key} · {self.kind} · {shape}"
        if self.role == SHORTCUT:
            return _("{block} · shortcut ({kind}) · {shape}").format(block=self.block_name, kind=_(self.kind),
                                                                    shape=shape)
        if self.role == BRANCH:
            return _("{block} · residual branch F(x) · {shape}").format(block=self.block_name, shape=shape)
        if self.role == GATE:
            return _("{block} · {gate} gate, one value per channel · {channels}").format(
                block=self.block_name, gate=self.kind, channels=self.shape[0])
        return _("{block} · block output {output} · {shape}").format(block=self.block_name, output=self.output_text,
                                                                    shape=shape)

    @property
    def bytes(self) -> int:
        return math.prod(self.shape) * FP16_BYTES

    @property
    def block_name(self) -> str | None:
        """The block this point belongs to ("layer2.0"), None for the stem."""
        return None if self.block is None else f"{self.stage}.{self.block}"

    @property
    def is_residual_part(self) -> bool:
        """A block's shortcut, residual branch or gate: shown beside its block, not listed as a layer."""
        return self.role in (SHORTCUT, BRANCH, GATE)


@dataclass(frozen=True)
class Activation:
    """A captured map of one image; statistics are computed (in float32) when first read."""

    point: CapturePoint
    tensor: torch.Tensor  # (C, H, W), float16 (bfloat16 beyond float16's range), CPU

    @cached_property
    def _values(self) -> torch.Tensor:
        return self.tensor.float()

    @cached_property
    def mean(self) -> float:
        return float(self._values.mean())

    @cached_property
    def std(self) -> float:
        return float(self._values.std()) if self._values.numel() > 1 else 0.0

    @cached_property
    def zero_fraction(self) -> float:
        """Exact zeros: the sparsity a ReLU leaves."""
        return float((self._values == 0).float().mean())

    @cached_property
    def minimum(self) -> float:
        return float(self._values.min())

    @cached_property
    def maximum(self) -> float:
        return float(self._values.max())

    @cached_property
    def maps(self) -> np.ndarray:
        """The maps as float32, (C, H, W), for charts."""
        return self._values.numpy()

    @property
    def channels(self) -> int:
        return self.tensor.shape[0]

    def top_channels(self, k: int) -> tuple[int, ...]:
        """The ``k`` channels with the highest spatial mean, highest first (ties: lower index first)."""
        means = self._values.mean(dim=(1, 2))  # (C,)
        return tuple(int(c) for c in torch.argsort(means, descending=True, stable=True)[:k])

    @property
    def page_count(self) -> int:
        """Pages of `CHANNELS_PER_PAGE` channels."""
        return -(-self.channels // CHANNELS_PER_PAGE)

    def channel_page(self, page: int) -> tuple[int, ...]:
        """The channels on ``page`` (1 = the first `CHANNELS_PER_PAGE`), in index order."""
        if not 1 <= page <= self.page_count:
            raise ValueError(_("Page {page} does not exist: {layer} has {pages} page(s) of channels.").format(
                page=page, layer=self.point.key, pages=self.page_count))
        return tuple(range((page - 1) * CHANNELS_PER_PAGE, min(page * CHANNELS_PER_PAGE, self.channels)))

    def pt_bytes(self) -> bytes:
        """The map as a ``torch.save`` file (.pt) for download: (C, H, W), float16 or bfloat16."""
        buffer = io.BytesIO()
        torch.save(self.tensor.clone(), buffer)
        return buffer.getvalue()


def capture_points(spec: ResNetSpec, input_size: int | tuple[int, int], detail: bool = False,
                   residual_parts: bool = False) -> tuple[CapturePoint, ...]:
    """What can be captured, in execution order.

    Always the stem's output, every block's output (after the final ReLU) and a pre-activation
    net's final BN-ReLU. ``detail`` adds every conv/BN/ReLU call inside the blocks, a gate's
    rows as (C, 1, 1) (ECA's 1-D conv too) and the final BN; ``residual_parts`` adds each block's
    shortcut, residual branch F(x) (the last BN or, in a gated block, the gate's product, before
    the add) and an SE/ECA gate's values (`GATE`, one per channel).
    """
    table = layer_table(spec, input_size)
    stem = next(s for s in table.stages if s.name == "stem")
    points = [CapturePoint("stem", spec.stage_names[0], 0, True, "stem", "stem", None, stem.out_shape)]
    model = build_model(spec, "meta")
    gates = gate_module_names(model)
    for block_row in table.blocks:
        if block_row.block is None:
            continue
        name = block_row.name
        block = model.get_submodule(name)
        where = dict(stage=block_row.stage, block=block_row.block)
        if detail:
            for row in table.rows:
                if row.stage == block_row.stage and row.block == block_row.block and len(row.out_shape) in (2, 3):
                    key = row.name if row.call == 0 else f"{row.name}_{row.call}"
                    shape = row.out_shape if len(row.out_shape) == 3 else (row.out_shape[-1], 1, 1)  # ECA: (1, C)
                    points.append(CapturePoint(key, row.name, row.call, False, "layer", **where,
                                               shape=shape, kind=row.type, gate=row.name in gates))
        if residual_parts and block_row.shortcut is not ShortcutKind.NONE:  # a plain block has no shortcut to show
            points.append(
                CapturePoint(f"{name}:shortcut", f"{name}.downsample" if block.downsample is not None else name, 0,
                             block.downsample is None, SHORTCUT, **where, shape=block_row.out_shape,
                             kind=block_row.shortcut.value))
        if residual_parts:
            points.append(CapturePoint(f"{name}:branch", f"{name}.{residual_branch_end(block)}", 0, False, BRANCH, **where,
                                       shape=block_row.out_shape))
        gate = getattr(block, "se", None)
        if residual_parts and gate is not None:  # SE's and ECA's sigmoid: the numbers that scale F(x)'s channels
            points.append(CapturePoint(f"{name}:gate", f"{name}.se.scale_activation", 0, False, GATE, **where,
                                       shape=(block_row.out_shape[0], 1, 1), kind=spec.attention.name))
        points.append(CapturePoint(name, name, 0, False, "block output", **where, shape=block_row.out_shape,
                                   kind=block_row.shortcut.value, preact=spec.preact))
    for row in table.rows:  # a pre-activation net's final BN and ReLU, on the main path before the pool
        if row.name in ("final_bn", "final_relu") and (detail or row.name == "final_relu"):
            points.append(CapturePoint(row.name, row.name, 0, False, "layer", "head", None, row.out_shape, row.type))
    return tuple(points)


def capture_bytes(points: Sequence[CapturePoint]) -> int:
    """Memory the captured float16 maps of one image take at most (a map reached twice, such as an
    identity shortcut's input, is copied once)."""
    return sum(p.bytes for p in points)


def capture_activations(model: nn.Module, spec: ResNetSpec, image: torch.Tensor, points: Sequence[CapturePoint],
                        budget_bytes: int | None = None) -> tuple[Activation, ...]:
    """One forward pass of ``image`` (3, H, W), normalized, capturing ``points`` in order.

    ``model`` may be shared with other sessions: it is never hooked or changed. Raises
    `CaptureTooLarge` when the float16 maps would exceed ``budget_bytes`` (default:
    `capture_budget`), and `DoesNotFit` when the forward's activations plus the copies would
    not fit in the memory free for them (held while the capture runs); both before the forward.
    """
    budget_bytes = capture_budget() if budget_bytes is None else budget_bytes
    needed = capture_bytes(points)
    if needed > budget_bytes:
        raise CaptureTooLarge(len(points), needed, budget_bytes)
    device = next(model.parameters()).device
    size = (image.shape[1], image.shape[2])
    what = _("Capturing the activations of {model} at {size} px").format(model=spec.name, size=size_text(size))
    # The forward's activations where the model is; the float16 copies in this process's memory.
    with RESERVATIONS.reserve(memory_need(spec, size), str(device), what, _(LOWER_SIZE)), \
            RESERVATIONS.reserve(needed, "cpu", what, _(LOWER_SIZE)):
        return _capture(model, spec, image, points, device)


def _capture(model: nn.Module, spec: ResNetSpec, image: torch.Tensor, points: Sequence[CapturePoint],
             device: torch.device) -> tuple[Activation, ...]:
    """`capture_activations` once the memory is held."""
    captured: dict[str, Activation] = {}
    # The same tensor reaches several points (a block's output is the next identity
    # shortcut's input): copy it once. Keyed by the tensor object and its version counter,
    # which every in-place op bumps (out += identity, ReLU(inplace=True)), so a copy is
    # reused only while the tensor is unchanged; sources are kept alive so ids stay unique.
    copies: dict[tuple[int, int], torch.Tensor] = {}
    sources: list[torch.Tensor] = []
    by_module: dict[tuple[str, bool], list[CapturePoint]] = {}
    for point in points:
        by_module.setdefault((point.module, point.pre), []).append(point)

    def copy_of(tensor: torch.Tensor) -> torch.Tensor:
        key = (id(tensor), tensor._version)
        if key not in copies:
            first = tensor[0]  # (C, H, W) of the first image
            # float16 keeps 3 decimal digits; maps beyond its range (deep random-init nets
            # grow past 65,504) keep float32's range in bfloat16, also 2 bytes.
            low, high = torch.aminmax(first)
            dtype = torch.float16 if max(-float(low), float(high)) < FP16_MAX else torch.bfloat16
            copies[key] = first.to("cpu", dtype, copy=True)
            sources.append(tensor)
        return copies[key]

    # no_grad, not inference_mode: inference tensors have no version counter.
    with leased_view(model, spec) as view, torch.no_grad():
        handles = []
        calls: dict[tuple[str, bool], int] = {}

        def make_hook(module_name: str, pre: bool):
            def hook(module: nn.Module, args: tuple, out: torch.Tensor | None = None) -> None:
                key = (module_name, pre)
                call = calls.get(key, 0)
                calls[key] = call + 1
                for point in by_module[key]:
                    if point.call == call:  # copied now: later in-place ops would change it
                        value = args[0] if pre else out
                        if value.dim() != 4:  # ECA's 1-D conv: (N, 1, C) as (N, C, 1, 1)
                            value = value.reshape(value.shape[0], *point.shape)
                        captured[point.key] = Activation(point, copy_of(value))
            return hook

        try:
            for module_name, pre in by_module:
                module = view.get_submodule(module_name)
                hook = make_hook(module_name, pre)
                handles.append(module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook))
            view(image.unsqueeze(0).to(device))  # (1, 3, H, W)
        finally:
            for handle in handles:
                handle.remove()
    return tuple(captured[p.key] for p in points)


# ---- browsing the maps (the Feature maps page) -----------------------------------------


@dataclass(frozen=True)
class CaptureKey:
    """What a capture depends on: equal keys give equal activations, so a session reuses them."""

    spec: ResNetSpec
    source: ModelSource
    image: str  # `images.image_digest` of the decoded picture
    preprocessing: Preprocessing
    detail: bool  # every conv/BN/ReLU call too, not only the main path


@dataclass(frozen=True)
class ResidualParts:
    """One block's shortcut x, residual branch F(x) and output relu(x + F(x)), from one forward pass.

    A plain block (shortcut "none") has no shortcut: its output is relu(F(x)). A gated block's
    F(x) is the gated branch, and ``gate`` holds the gate's values (C, 1, 1).
    """

    shortcut: Activation | None
    branch: Activation
    output: Activation
    gate: Activation | None = None

    @property
    def all(self) -> tuple[Activation, ...]:
        return tuple(part for part in (self.shortcut, self.branch, self.output) if part is not None)

    @property
    def kind(self) -> ShortcutKind:
        """The block's shortcut: what the first map shows (identity x, a projection W_s·x, …)."""
        return ShortcutKind(self.output.point.kind)

    def channel_range(self, channel: int) -> tuple[float, float]:
        """One colour range for ``channel`` of the three maps, so they can be compared."""
        values = [part.tensor[channel].float() for part in self.all]
        return min(float(v.min()) for v in values), max(float(v.max()) for v in values)


def residual_parts(activations: Sequence[Activation], block: str) -> ResidualParts:
    """``block``'s ("layer2.0") shortcut, residual branch and output, picked from a capture of
    ``capture_points(..., residual_parts=True)``: the one forward pass that captured the layers."""
    by_key = {a.point.key: a for a in activations}
    if f"{block}:branch" not in by_key or block not in by_key:
        raise ValueError(_("The capture holds no residual parts of a block named {block!r}.").format(block=block))
    return ResidualParts(by_key.get(f"{block}:shortcut"), by_key[f"{block}:branch"], by_key[block],
                         by_key.get(f"{block}:gate"))


def file_stem(spec: ResNetSpec, point: CapturePoint) -> str:
    """A download's file name without extension: "resnet18_layer3.1", safe on every file system."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{spec.name}_{point.key}")


def first_conv_filters(model: nn.Module) -> np.ndarray:
    """The weights of the model's first conv as float32 on the CPU: (out, in, k, k)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError(_("The model has no convolution."))
    return conv.weight.detach().float().cpu().numpy()
