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
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from explorer.analysis.anatomy import LayerRow, LayerTable, is_leaf_layer, layer_table
from explorer.analysis.table_format import Column, RowsTable, format_shape
from explorer.model.build import build_model
from explorer.analysis.memory_needs import LOWER_BATCH, reserved
from explorer.runtime.devices import DeviceKind, synchronize
from explorer.runtime.i18n import _
from explorer.runtime.memory import DoesNotFit
from explorer.runtime.progress import Progress, Text, no_progress, part_of
from explorer.model.spec import ResNetSpec

_CUDA_PEAK_LOCK = threading.Lock()  # torch.cuda.reset_peak_memory_stats is process-wide


@dataclass(frozen=True)
class LayerCost:
    """One leaf-layer call: median latency over the repeats, and CUDA peak memory."""

    name: str
    call: int
    milliseconds: float
    peak_bytes: int | None  # memory allocated above the layer's starting point, CUDA only

    @property
    def label(self) -> str:
        """The layer's name, with "(call 2)" on a module called more than once (a shared ReLU)."""
        return self.name + (_(" (call {call})").format(call=self.call + 1) if self.call else "")


@dataclass(frozen=True)
class CostReport:
    device: str
    batch: int
    input_size: tuple[int, int]
    repeats: int
    layers: tuple[LayerCost, ...]
    forward_milliseconds: float  # median of whole forwards without hooks
    peak_bytes: int | None  # whole forward, CUDA only


def costs_of(report: CostReport, rows: Sequence[LayerRow]) -> list[LayerCost]:
    """The measured cost of each of ``rows`` (leaf-layer calls), joined by (name, call).

    ValueError naming the rows the report lacks: it was measured on another model.
    """
    by_call = {(c.name, c.call): c for c in report.layers}
    missing = [f"{r.name} (call {r.call + 1})" for r in rows if (r.name, r.call) not in by_call]
    if missing:
        raise ValueError(f"The cost report has no measurement of {', '.join(missing)}: it is of another model.")
    return [by_call[(r.name, r.call)] for r in rows]


def cost_table(report: CostReport, table: LayerTable) -> RowsTable:
    """The Measured cost tab's table: every layer call as measured, with its type, output shape
    and MACs from ``table``; peak memory only where it was measured (CUDA).

    ValueError unless the report measured exactly the table's layer calls.
    """
    costs = costs_of(report, table.rows)
    if len(costs) != len(report.layers):
        raise ValueError(f"The cost report measured {len(report.layers)} layer calls; {table.spec.name} has "
                         f"{len(costs)}: it is of another model.")
    rows_by_call = {(r.name, r.call): r for r in table.rows}
    latency, peak = _("Latency (ms)"), _("Peak memory (bytes)")
    columns = ("#", Column.NAME.label, Column.TYPE.label, Column.OUT_SHAPE.label, Column.MACS.label, latency,
               *([peak] if report.peak_bytes is not None else []))
    rows = []
    for index, cost in enumerate(report.layers):
        row = rows_by_call[(cost.name, cost.call)]
        rows.append(dict(zip(columns, (index, cost.label, row.type, format_shape(row.out_shape), row.macs,
                                       round(cost.milliseconds, 3), cost.peak_bytes))))
    return RowsTable(columns, tuple(rows))


class _Timer:
    """Pre/post hooks that time each leaf call of a private model."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.cuda = DeviceKind.of(device) is DeviceKind.CUDA
        self.records: list[tuple[str, object, object, int | None]] = []
        self.open: list[tuple[object, int]] = []

    def now(self) -> object:
        """A CUDA event in the stream; elsewhere the clock, once the device has done its queued work (MPS)."""
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        synchronize(self.device)
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


def _forward_reserved(table: LayerTable, device: str, batch: int):
    """`reserved` for a model built for the measurement plus ``batch`` images' activations: held
    while the block runs, or `DoesNotFit` before it."""
    return reserved(table.spec, table.input_size, device,
                    _("A forward pass of {model} at {height}x{width} with batch {batch}").format(
                        model=table.spec.name, height=table.input_size[0], width=table.input_size[1], batch=batch),
                    LOWER_BATCH, batch=batch, params=1.0)


def _time_forward(model: nn.Module, x: torch.Tensor, repeats: int, cuda: bool, warmups: int = 1,
                  progress: Progress = no_progress) -> tuple[float, int | None]:
    """Median milliseconds of ``repeats`` whole forwards after ``warmups``, and the CUDA peak of
    one more (None on other devices); progress after each forward. Call under `_CUDA_PEAK_LOCK`
    on CUDA, in inference mode."""
    forwards = warmups + repeats
    for warmup in range(warmups):  # kernel selection, allocator, thread pools
        model(x)
        progress((warmup + 1) / forwards)
    times = []
    for repeat in range(repeats):
        synchronize(x.device)
        start = time.perf_counter()
        model(x)
        synchronize(x.device)
        times.append((time.perf_counter() - start) * 1e3)
        progress((warmups + repeat + 1) / forwards)
    peak = None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        model(x)
        peak = torch.cuda.max_memory_allocated() - base
    return statistics.median(times), peak


def measure_layer_costs(spec: ResNetSpec, input_size: int | tuple[int, int], device: str,
                        batch: int = 1, repeats: int = 3, seed: int = 0) -> CostReport:
    """Time every leaf call of one forward of ``batch`` random images (median of ``repeats``).

    Raises `DoesNotFit` before building when weights plus activations would not fit in the memory
    free for them (held while it runs).
    """
    table = layer_table(spec, input_size)
    with _forward_reserved(table, device, batch):
        return _measure_layer_costs(spec, table, device, batch, repeats, seed)


def _measure_layer_costs(spec: ResNetSpec, table: LayerTable, device: str, batch: int, repeats: int,
                         seed: int) -> CostReport:
    """`measure_layer_costs` once the memory is held."""
    cuda = DeviceKind.of(device) is DeviceKind.CUDA
    model = build_model(spec, device, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, spec.in_channels, *table.input_size, generator=generator).to(device)  # (N, C, H, W)

    with _CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.inference_mode():
        forward_milliseconds, peak = _time_forward(model, x, repeats, cuda)
        timer = _Timer(device)
        for name, module in model.named_modules():
            if is_leaf_layer(module):
                module.register_forward_pre_hook(timer.before)
                module.register_forward_hook(timer.after(name))
        runs = []
        for _repeat in range(repeats):
            timer.records.clear()
            model(x)
            synchronize(device)
            runs.append([(n, timer.elapsed_ms(s, e), p) for n, s, e, p in timer.records])

    calls: dict[str, int] = {}
    layers = []
    for index, (name, _ms, peak_bytes) in enumerate(runs[0]):
        call = calls.get(name, 0)
        calls[name] = call + 1
        layers.append(LayerCost(name, call, statistics.median(run[index][1] for run in runs), peak_bytes))
    return CostReport(
        device=device, batch=batch, input_size=table.input_size, repeats=repeats, layers=tuple(layers),
        forward_milliseconds=forward_milliseconds, peak_bytes=peak,
    )


# ---- whole-forward latency and throughput (Compare) ----------------------------------------


THROUGHPUT_WARMUPS = 2  # a CPU's first forwards of a new model run several times slower
THROUGHPUT_REPEATS = 5


def throughput_batches(device: str) -> tuple[int, int]:
    """Batch 1 (latency) and a larger batch (throughput): 64 on CUDA, 16 elsewhere (a CPU is slow)."""
    return (1, 64) if DeviceKind.of(device) is DeviceKind.CUDA else (1, 16)


@dataclass(frozen=True)
class BatchTiming:
    """Whole forwards of one batch: median latency and, on CUDA, peak memory."""

    batch: int
    milliseconds: float  # median over the repeats, after the warm-ups
    peak_bytes: int | None  # allocated above the model and input during one forward, CUDA only

    @property
    def images_per_second(self) -> float:
        return self.batch / (self.milliseconds / 1e3)


@dataclass(frozen=True)
class ThroughputReport:
    """One model's forward latency and throughput at several batch sizes on one device."""

    model: str  # the spec's name
    device: str
    input_size: tuple[int, int]
    repeats: int
    macs: int  # conv + linear multiply-accumulates per image, from the layer table
    timings: tuple[BatchTiming, ...]

    def gmacs_per_second(self, timing: BatchTiming) -> float:
        """The arithmetic the device achieved: MACs of the batch over its latency, in G/s."""
        return self.macs * timing.batch / (timing.milliseconds / 1e3) / 1e9


def measure_throughput(spec: ResNetSpec, input_size: int | tuple[int, int], device: str,
                       batch_sizes: Sequence[int], progress: Progress = no_progress,
                       repeats: int = THROUGHPUT_REPEATS, seed: int = 0) -> ThroughputReport:
    """Median latency of whole forwards of random images for each batch size, on a model built for it
    (after `THROUGHPUT_WARMUPS` forwards).

    Raises `DoesNotFit` when the largest batch would not fit in free memory, or when the
    device runs out of memory all the same.
    """
    table = layer_table(spec, input_size)
    height, width = table.input_size
    with _forward_reserved(table, device, max(batch_sizes)):
        return _measure_throughput(spec, table, device, batch_sizes, progress, repeats, seed)


def _measure_throughput(spec: ResNetSpec, table: LayerTable, device: str, batch_sizes: Sequence[int],
                        progress: Progress, repeats: int, seed: int) -> ThroughputReport:
    """`measure_throughput` once the memory is held."""
    height, width = table.input_size
    cuda = DeviceKind.of(device) is DeviceKind.CUDA
    per_batch = THROUGHPUT_WARMUPS + repeats
    steps = len(batch_sizes) * per_batch

    def forwards_of(index: int, batch: int) -> Progress:
        """Progress of one batch size's forwards, said as the forward's number among all of them."""
        def report(fraction: float, text: Text = "", partial: object = None) -> None:
            done = index * per_batch + round(fraction * per_batch)
            progress(done / steps, _("{model}, batch {batch}: forward {done} of {steps}").format(
                model=spec.name, batch=batch, done=done, steps=steps))
        return report

    generator = torch.Generator().manual_seed(seed)
    timings = []
    model = x = None
    try:
        model = build_model(spec, device, seed=seed)
        with _CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.inference_mode():
            for index, batch in enumerate(batch_sizes):
                x = torch.randn(batch, spec.in_channels, height, width, generator=generator).to(device)  # (N, C, H, W)
                milliseconds, peak = _time_forward(model, x, repeats, cuda, THROUGHPUT_WARMUPS,
                                                   forwards_of(index, batch))
                timings.append(BatchTiming(batch, milliseconds, peak))
    except torch.OutOfMemoryError:
        model = x = None  # drop the failed attempt's tensors, then give their blocks back to other sessions
        torch.cuda.empty_cache()
        raise DoesNotFit(_("{model} ran out of memory on {device} with batches up to {batch}: another session may be "
                           "using the device. Try again, or use a smaller input size.").format(
            model=spec.name, device=device, batch=max(batch_sizes))) from None
    return ThroughputReport(spec.name, device, (height, width), repeats, table.totals.macs, tuple(timings))


def measure_throughputs(specs: Sequence[ResNetSpec], input_size: int | tuple[int, int], device: str,
                        batch_sizes: Sequence[int], progress: Progress = no_progress,
                        repeats: int = THROUGHPUT_REPEATS) -> tuple[ThroughputReport, ...]:
    """`measure_throughput` of several models in one run, one after the other, with one progress."""
    return tuple(measure_throughput(spec, input_size, device, batch_sizes, part_of(progress, index, len(specs)), repeats)
                 for index, spec in enumerate(specs))
