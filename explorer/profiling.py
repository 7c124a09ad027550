"""Measured cost of one forward pass, per leaf layer, on a real model on a real device.

The model is built for the measurement and thrown away: the timing hooks never touch a
model another session uses. GPU timings use CUDA events; CPU timings ``perf_counter``.
Peak memory per layer is measured on CUDA only (``torch.cuda.max_memory_allocated``); the
CPU allocator has no such counter, so there the report leaves it empty. CUDA's peak counter
is one per device for the whole process: measurements on CUDA are serialised by a lock, so
two sessions never reset each other's peak (another session's forward pass can still add
its own allocations to a peak; the figure is then an upper bound).
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from dataclasses import dataclass

import torch
from torch import nn

from explorer.anatomy import is_leaf_layer, layer_table
from explorer.build import build_model
from explorer.devices import check_fits
from explorer.spec import ResNetSpec

_CUDA_PEAK_LOCK = threading.Lock()  # torch.cuda.reset_peak_memory_stats is process-wide


@dataclass(frozen=True)
class LayerCost:
    """One leaf-layer call: median latency over the repeats, and CUDA peak memory."""

    name: str
    call: int
    milliseconds: float
    peak_bytes: int | None  # memory allocated above the layer's starting point, CUDA only


@dataclass(frozen=True)
class CostReport:
    device: str
    batch: int
    input_size: tuple[int, int]
    repeats: int
    layers: tuple[LayerCost, ...]
    forward_milliseconds: float  # median of whole forwards without hooks
    peak_bytes: int | None  # whole forward, CUDA only


class _Timer:
    """Pre/post hooks that time each leaf call of a private model."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.records: list[tuple[str, object, object, int | None]] = []
        self.open: list[tuple[object, int]] = []

    def now(self) -> object:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def before(self, module: nn.Module, args: object) -> None:
        base = 0
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        self.open.append((self.now(), base))

    def after(self, name: str) -> object:
        def hook(module: nn.Module, args: object, out: object) -> None:
            start, base = self.open.pop()
            end = self.now()
            peak = torch.cuda.max_memory_allocated() - base if self.cuda else None
            self.records.append((name, start, end, peak))
        return hook

    def elapsed_ms(self, start: object, end: object) -> float:
        if self.cuda:
            return start.elapsed_time(end)  # type: ignore[attr-defined]
        return (end - start) * 1e3  # type: ignore[operator]


def measure_layer_costs(spec: ResNetSpec, input_size: int | tuple[int, int], device: str,
                        batch: int = 1, repeats: int = 3, seed: int = 0) -> CostReport:
    """Time every leaf call of one forward of ``batch`` random images (median of ``repeats``).

    Raises `DoesNotFit` when weights plus activations would not fit in free memory.
    """
    table = layer_table(spec, input_size)
    check_fits(table.totals.param_bytes, table.totals.activation_bytes * batch, device,
               f"A forward pass of {spec.name} at {table.input_size[0]}x{table.input_size[1]} with batch {batch}")
    cuda = device.startswith("cuda")
    model = build_model(spec, device, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, spec.in_channels, *table.input_size, generator=generator).to(device)  # (N, C, H, W)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    forward_times = []
    with _CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.inference_mode():
        model(x)  # warm-up: kernel selection, allocator
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            model(x)
            sync()
            forward_times.append((time.perf_counter() - start) * 1e3)
        peak = None
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            model(x)
            peak = torch.cuda.max_memory_allocated() - base

        timer = _Timer(cuda)
        for name, module in model.named_modules():
            if is_leaf_layer(module):
                module.register_forward_pre_hook(timer.before)
                module.register_forward_hook(timer.after(name))
        runs = []
        for _ in range(repeats):
            timer.records.clear()
            model(x)
            sync()
            runs.append([(n, timer.elapsed_ms(s, e), p) for n, s, e, p in timer.records])

    calls: dict[str, int] = {}
    layers = []
    for index, (name, _ms, peak_bytes) in enumerate(runs[0]):
        call = calls.get(name, 0)
        calls[name] = call + 1
        layers.append(LayerCost(name, call, statistics.median(run[index][1] for run in runs), peak_bytes))
    return CostReport(
        device=device, batch=batch, input_size=table.input_size, repeats=repeats, layers=tuple(layers),
        forward_milliseconds=statistics.median(forward_times), peak_bytes=peak,
    )
