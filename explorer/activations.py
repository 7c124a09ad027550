"""Capture a ResNet's activations for one image without touching the shared model.

Hooks go on a private view of the model (`model_views.leased_view`), never on the model
that every session shares.

Captured tensors are copies taken when a module returns, so torchvision's in-place
``out += identity`` and in-place ReLUs cannot change them afterwards, and each call of a
reused module (BasicBlock's ``relu``) is its own entry. They are stored on the CPU as
float16; statistics are computed in float32 first.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from explorer.anatomy import layer_table
from explorer.build import build_model, residual_branch_last_bn
from explorer.model_views import leased_view
from explorer.spec import ResNetSpec

FP16_BYTES = 2
FP16_MAX = 65504.0
DEFAULT_BUDGET_MB = 1024


def capture_budget() -> int:
    """Bytes a capture may use: ``EXPLORER_CAPTURE_BUDGET_MB`` (default 1024 MiB), read per call."""
    return int(os.environ.get("EXPLORER_CAPTURE_BUDGET_MB", DEFAULT_BUDGET_MB)) * 2**20


class CaptureTooLarge(ValueError):
    """The requested activations would exceed the memory budget; the message says what to do."""


@dataclass(frozen=True)
class CapturePoint:
    """One tensor to capture, named and placed for the page's layer picker."""

    key: str  # unique: "stem", "layer2.0", "layer2.0.relu_1", "layer2.0:shortcut", ...
    module: str  # module to hook ("" for none)
    call: int  # which call of that module (BasicBlock's relu is called twice)
    pre: bool  # capture the module's input instead of its output
    role: str  # "stem", "block output", "residual branch F(x)", "shortcut", "layer"
    stage: str
    block: int | None
    shape: tuple[int, int, int]  # (C, H, W) of one image
    label: str

    @property
    def bytes(self) -> int:
        return math.prod(self.shape) * FP16_BYTES


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


def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def capture_points(spec: ResNetSpec, input_size: int | tuple[int, int], detail: bool = False,
                   residual_parts: bool = False, blocks: Sequence[str] | None = None) -> tuple[CapturePoint, ...]:
    """What can be captured, in execution order.

    Always the stem's output and every block's output (after the final ReLU). ``detail``
    adds every conv/BN/ReLU call inside the blocks; ``residual_parts`` adds each block's
    shortcut and residual branch F(x) (the last BN, before the add). ``blocks`` (names like
    "layer2.0") keeps only those blocks, without the stem.
    """
    table = layer_table(spec, input_size)
    points: list[CapturePoint] = []
    if blocks is None:
        stem = next(s for s in table.stages if s.name == "stem")
        points.append(CapturePoint("stem", "layer1", 0, True, "stem", "stem", None, stem.out_shape,
                                   f"stem · output · {_shape(stem.out_shape)}"))
    model = build_model(spec, "meta")
    for block_row in table.blocks:
        if block_row.block is None or (blocks is not None and block_row.name not in blocks):
            continue
        name = block_row.name
        block = model.get_submodule(name)
        where = dict(stage=block_row.stage, block=block_row.block)
        if detail:
            for row in table.rows:
                if row.stage == block_row.stage and row.block == block_row.block and len(row.out_shape) == 3:
                    key = row.name if row.call == 0 else f"{row.name}_{row.call}"
                    nth = f" (call {row.call + 1})" if row.call else ""
                    points.append(CapturePoint(key, row.name, row.call, False, "layer", **where,
                                               shape=row.out_shape,
                                               label=f"{key} · {row.type}{nth} · {_shape(row.out_shape)}"))
        if residual_parts:
            last_bn = name + "." + next(n for n, m in block.named_children() if m is residual_branch_last_bn(block))
            shortcut_module = f"{name}.downsample" if block.downsample is not None else name
            points += [
                CapturePoint(f"{name}:shortcut", shortcut_module, 0, block.downsample is None, "shortcut", **where,
                             shape=block_row.out_shape,
                             label=f"{name} · shortcut ({block_row.shortcut}) · {_shape(block_row.out_shape)}"),
                CapturePoint(f"{name}:branch", last_bn, 0, False, "residual branch F(x)", **where,
                             shape=block_row.out_shape, label=f"{name} · residual branch F(x) · {_shape(block_row.out_shape)}"),
            ]
        points.append(CapturePoint(name, name, 0, False, "block output", **where, shape=block_row.out_shape,
                                   label=f"{name} · block output relu(x + F(x)) · {_shape(block_row.out_shape)}"))
    return tuple(points)


def capture_bytes(points: Sequence[CapturePoint]) -> int:
    """Memory the captured float16 maps of one image will take."""
    return sum(p.bytes for p in points)


def capture_activations(model: nn.Module, spec: ResNetSpec, image: torch.Tensor, points: Sequence[CapturePoint],
                        budget_bytes: int | None = None) -> tuple[Activation, ...]:
    """One forward pass of ``image`` (3, H, W), normalized, capturing ``points`` in order.

    ``model`` may be shared with other sessions: it is never hooked or changed. Raises
    `CaptureTooLarge` when the float16 maps would exceed ``budget_bytes`` (default:
    `capture_budget`).
    """
    budget_bytes = capture_budget() if budget_bytes is None else budget_bytes
    needed = capture_bytes(points)
    if needed > budget_bytes:
        raise CaptureTooLarge(
            f"Capturing {len(points)} maps needs {needed / 2**20:,.0f} MiB, above the budget of "
            f"{budget_bytes / 2**20:,.0f} MiB. Capture block outputs only, or use a smaller input size."
        )
    device = next(model.parameters()).device
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
                        captured[point.key] = Activation(point, copy_of(args[0] if pre else out))
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
