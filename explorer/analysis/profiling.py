"""Measured cost of one forward pass, per leaf layer, on a real model on a real device.

The model is built for the measurement and thrown away: the timing hooks never touch a
model another session uses. Every time here is a `timing.Timing`: warm-up passes first,
then several runs, reported as the median with the fastest and slowest run.

Per layer, timing the span between a layer's pre- and post-hook measures the hooks, Python's
dispatch and the clock as much as the layer: a ReLU came out at 7 ms and every conv near
30 ms whatever its MACs. So a pre-hook runs the layer's own ``forward`` alone, a few times
back to back, each between two clock readings (CUDA events on CUDA, ``perf_counter_ns``
after a synchronize elsewhere), the fastest call counting for the run, before the real call
goes on; the clock's own cost, measured on an empty span, is taken off; each layer's
figure is the median over whole hooked forwards, so a burst of load on the machine hits one
run of every layer rather than every run of one layer.

Peak memory per layer is measured on CUDA only (``torch.cuda.max_memory_allocated``); the
CPU allocator has no such counter, so there the report leaves it empty. CUDA's peak counter
is one per device for the whole process: measurements on CUDA are serialised by a lock, so
two sessions never reset each other's peak (another session's forward pass can still add
its own allocations to a peak; the figure is then an upper bound).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from explorer.analysis.anatomy import LayerRow, LayerTable, is_leaf_layer, layer_table
from explorer.analysis.memory_needs import LOWER_BATCH, reserved
from explorer.analysis.table_format import Column, RowsTable, format_shape
from explorer.analysis.timing import CUDA_PEAK_LOCK, NOISY_SPREAD, Timing, noisy_note, time_runs
from explorer.model.build import build_model
from explorer.model.spec import ResNetSpec
from explorer.runtime.devices import DeviceKind, synchronize
from explorer.runtime.i18n import _
from explorer.runtime.memory import DoesNotFit
from explorer.runtime.progress import Progress, Text, no_progress, part_of

LAYER_WARMUPS = 2  # hooked forwards run before the timed ones: kernel choice, caches, thread pools
LAYER_REPEATS = 7  # hooked forwards timed: each layer's median and spread are over these
FORWARD_WARMUPS = 3  # whole forwards before the timed ones (a first CUDA forward can take a second)
LAYER_CALLS = 3  # back-to-back calls of a layer in each run: the fastest counts (see `_LayerClock`)
CLOCK_RUNS = 20  # empty spans timed to learn the clock's own cost


@dataclass(frozen=True)
class LayerCost:
    """One leaf-layer call: its own forward's timing over the runs, and CUDA peak memory."""

    name: str
    call: int
    timing: Timing  # milliseconds of this call alone, the clock's cost taken off
    peak_bytes: int | None  # memory allocated above the layer's starting point, CUDA only

    @property
    def milliseconds(self) -> float:
        """The median over the runs."""
        return self.timing.median

    @property
    def label(self) -> str:
        """The layer's name, with "(call 2)" on a module called more than once (a shared ReLU)."""
        return self.name + (_(" (call {call})").format(call=self.call + 1) if self.call else "")


@dataclass(frozen=True)
class CostReport:
    """Every leaf call of one model's forward, timed, and the whole forward without hooks."""

    device: str
    batch: int
    input_size: tuple[int, int]
    repeats: int  # timed runs per layer (hooked forwards) and of the whole forward
    layers: tuple[LayerCost, ...]
    forward: Timing  # whole forwards without hooks
    peak_bytes: int | None  # whole forward, CUDA only
    clock_milliseconds: float = 0.0  # the median empty span, taken off every layer's runs

    @property
    def forward_milliseconds(self) -> float:
        """The whole forward's median."""
        return self.forward.median

    @property
    def noisy_layers(self) -> int:
        """How many layer calls' runs disagree by more than `timing.NOISY_SPREAD` of their median."""
        return sum(layer.timing.noisy for layer in self.layers)


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
    """The Measured cost tab's table: every layer call as measured (median, fastest and slowest run),
    with its type, output shape and MACs from ``table``; peak memory only where it was measured (CUDA).

    ValueError unless the report measured exactly the table's layer calls.
    """
    costs = costs_of(report, table.rows)
    if len(costs) != len(report.layers):
        raise ValueError(f"The cost report measured {len(report.layers)} layer calls; {table.spec.name} has "
                         f"{len(costs)}: it is of another model.")
    rows_by_call = {(r.name, r.call): r for r in table.rows}
    latency, fastest, slowest, peak = _("Latency (ms)"), _("Fastest (ms)"), _("Slowest (ms)"), _("Peak memory (bytes)")
    columns = ("#", Column.NAME.label, Column.TYPE.label, Column.OUT_SHAPE.label, Column.MACS.label, latency, fastest,
               slowest, *([peak] if report.peak_bytes is not None else []))
    rows = []
    for index, cost in enumerate(report.layers):
        row = rows_by_call[(cost.name, cost.call)]
        timing = cost.timing
        rows.append(dict(zip(columns, (index, cost.label, row.type, format_shape(row.out_shape), row.macs,
                                       round(timing.median, 3), round(timing.low, 3), round(timing.high, 3),
                                       cost.peak_bytes))))
    return RowsTable(columns, tuple(rows))


class _LayerClock:
    """Pre-hooks on a private model's leaf layers that time each layer's own forward, alone.

    Before a layer's real call, its ``forward`` runs `LAYER_CALLS` more times, each between two
    clock readings: the hooks, Python's module dispatch and the clock's bookkeeping stay outside
    the timed spans, and the fastest of the calls is this run's figure (a call the operating
    system interrupted to run something else is not the layer's cost). The extra calls' outputs
    are dropped; an in-place ReLU runs again on its own result, which a ReLU leaves as it is.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.cuda = DeviceKind.of(device) is DeviceKind.CUDA
        self.calls: dict[str, int] = {}
        self.spans: list[tuple[str, int, list[tuple[object, object]], int | None]] = []

    def now(self) -> object:
        """A CUDA event in the stream; elsewhere the clock, once the device has done its queued work (MPS)."""
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        synchronize(self.device)
        return time.perf_counter_ns()

    def elapsed_ms(self, start: object, end: object) -> float:
        if self.cuda:
            return start.elapsed_time(end)  # type: ignore[attr-defined]
        return (end - start) / 1e6  # type: ignore[operator]

    def hook(self, name: str):
        def before(module: nn.Module, args: tuple) -> None:
            call = self.calls.get(name, 0)
            self.calls[name] = call + 1
            base = 0
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            spans = []
            for _call in range(LAYER_CALLS):
                start = self.now()
                module.forward(*args)  # the layer alone: no hooks run inside the span
                spans.append((start, self.now()))
            peak = torch.cuda.max_memory_allocated() - base if self.cuda else None
            self.spans.append((name, call, spans, peak))
        return before

    def forward(self, model: nn.Module, x: torch.Tensor) -> list[tuple[str, int, float, int | None]]:
        """One hooked forward: (name, call, milliseconds, peak bytes) of each leaf call, in order; the
        milliseconds are the fastest of the `LAYER_CALLS` back-to-back calls."""
        self.calls.clear()
        self.spans.clear()
        model(x)
        synchronize(self.device)
        return [(name, call, min(self.elapsed_ms(start, end) for start, end in spans), peak)
                for name, call, spans, peak in self.spans]

    def empty_span_ms(self, runs: int = CLOCK_RUNS) -> float:
        """The median of ``runs`` spans with nothing in them: what the clock itself adds to each layer."""
        spans = []
        for _run in range(runs):
            start, end = self.now(), self.now()
            synchronize(self.device)
            spans.append(self.elapsed_ms(start, end))
        return statistics.median(spans)


def _forward_reserved(table: LayerTable, device: str, batch: int):
    """`reserved` for a model built for the measurement plus ``batch`` images' activations: held
    while the block runs, or `DoesNotFit` before it."""
    return reserved(table.spec, table.input_size, device,
                    _("A forward pass of {model} at {height}x{width} with batch {batch}").format(
                        model=table.spec.name, height=table.input_size[0], width=table.input_size[1], batch=batch),
                    LOWER_BATCH, batch=batch, params=1.0)


def _forward_peak(model: nn.Module, x: torch.Tensor) -> int | None:
    """Bytes allocated above the model and input during one more forward, on CUDA (None elsewhere).
    Call under `CUDA_PEAK_LOCK`, in inference mode."""
    if DeviceKind.of(x.device) is not DeviceKind.CUDA:
        return None
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model(x)
    return torch.cuda.max_memory_allocated() - base


def measure_layer_costs(spec: ResNetSpec, input_size: int | tuple[int, int], device: str,
                        batch: int = 1, repeats: int = LAYER_REPEATS, seed: int = 0) -> CostReport:
    """Time every leaf call of a forward of ``batch`` random images, and the whole forward: the
    median and spread of ``repeats`` runs after warm-ups (`LAYER_WARMUPS`, `FORWARD_WARMUPS`).

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

    with CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.inference_mode():
        forward = time_runs(lambda: model(x), device, FORWARD_WARMUPS, repeats)
        peak = _forward_peak(model, x)
        clock = _LayerClock(device)
        for name, module in model.named_modules():
            if is_leaf_layer(module):
                module.register_forward_pre_hook(clock.hook(name))
        for _warmup in range(LAYER_WARMUPS):
            clock.forward(model, x)
        overhead = clock.empty_span_ms()
        runs = [clock.forward(model, x) for _repeat in range(repeats)]

    layers = tuple(
        LayerCost(name, call, Timing(tuple(max(run[index][2] - overhead, 0.0) for run in runs), LAYER_WARMUPS),
                  max(run[index][3] for run in runs) if cuda else None)
        for index, (name, call, _ms, _peak) in enumerate(runs[0]))
    return CostReport(device=device, batch=batch, input_size=table.input_size, repeats=repeats, layers=layers,
                      forward=forward, peak_bytes=peak, clock_milliseconds=overhead)


def cost_method_text(device: str, batch: int, input_size: int, device_label: str) -> str:
    """How the Measured cost tab measures, with this run's figures, in the reader's language."""
    clock = _("CUDA events") if DeviceKind.of(device) is DeviceKind.CUDA else _("the system clock")
    memory = (_("its peak memory (CUDA allocator)") if DeviceKind.of(device) is DeviceKind.CUDA
              else _("its peak memory (measured on CUDA only)"))
    return _("Real forward passes of a batch of {batch} random image(s) at {size}×{size} on **{device}**, on a model "
             "built for the measurement: the latency of every layer and {memory}. Each layer's own forward is timed "
             "apart from the hooks that reach it ({clock}; the fastest of {calls} back-to-back calls per run), in "
             "{repeats} whole forwards after {warmups} warm-up forwards: the table gives the median and the fastest "
             "and slowest run. The latency also appears, coloured, in the layer table.").format(
        batch=batch, size=input_size, device=device_label, memory=memory, clock=clock, calls=LAYER_CALLS,
        repeats=LAYER_REPEATS, warmups=LAYER_WARMUPS)


def cost_notes(report: CostReport) -> list[str]:
    """Warnings for a cost report whose runs disagree: the whole forward's, and how many layers'."""
    notes = [noisy_note(_("Whole forward"), report.forward)]
    if report.noisy_layers:
        notes.append(_("{count} of {total} layer calls had runs spread by more than {limit:.0%} of their median: "
                       "something else used the device meanwhile. Their medians are less sure; measure again to "
                       "compare.").format(count=report.noisy_layers, total=len(report.layers), limit=NOISY_SPREAD))
    return [note for note in notes if note]


# ---- whole-forward latency and throughput (Compare) ----------------------------------------


THROUGHPUT_WARMUPS = 3  # a CPU's first forwards of a new model run several times slower
THROUGHPUT_REPEATS = 7


def throughput_batches(device: str) -> tuple[int, int]:
    """Batch 1 (latency) and a larger batch (throughput): 64 on CUDA, 16 elsewhere (a CPU is slow)."""
    return (1, 64) if DeviceKind.of(device) is DeviceKind.CUDA else (1, 16)


@dataclass(frozen=True)
class BatchTiming:
    """Whole forwards of one batch: their timing and, on CUDA, peak memory."""

    batch: int
    timing: Timing  # milliseconds of each forward of the batch, after the warm-ups
    peak_bytes: int | None  # allocated above the model and input during one forward, CUDA only

    @property
    def milliseconds(self) -> float:
        """The median forward."""
        return self.timing.median

    @property
    def images_per_second(self) -> float:
        """The batch over the median forward."""
        return self.timing.per_second(self.batch)[0]


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
    """The timing of whole forwards of random images for each batch size (median and spread of
    ``repeats`` after `THROUGHPUT_WARMUPS`), on a model built for it.

    Raises `DoesNotFit` when the largest batch would not fit in free memory, or when the
    device runs out of memory all the same.
    """
    table = layer_table(spec, input_size)
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
        with CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.inference_mode():
            for index, batch in enumerate(batch_sizes):
                x = torch.randn(batch, spec.in_channels, height, width, generator=generator).to(device)  # (N, C, H, W)
                timing = time_runs(lambda: model(x), device, THROUGHPUT_WARMUPS, repeats, forwards_of(index, batch))
                timings.append(BatchTiming(batch, timing, _forward_peak(model, x)))
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
