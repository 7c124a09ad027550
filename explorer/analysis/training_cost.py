"""What training a model costs beside running it: memory at a real batch, and measured images/s.

The memory is estimated from the layer table, without building the model: float32 weights,
one gradient per weight, SGD's momentum buffer per weight, every layer's output for the batch
(what the backward keeps; an upper bound, since an in-place ReLU shares its input's memory)
and the input batch. It is `memory_needs.memory_need` with three copies of the parameters.

The speed is measured: forward, backward and an SGD step on random images and labels, on a
model built for it, `TRAINING_WARMUPS` steps untimed, then the median and spread of several
(`timing.Timing`). A step does about three times a forward's arithmetic: the backward computes
gradients for the layer inputs and for the weights, each about as costly as the forward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer.analysis.anatomy import LayerTable, layer_table
from explorer.analysis.memory_needs import LOWER_BATCH, reserved, size_text
from explorer.analysis.profiling import ThroughputReport, measure_throughputs, throughput_batches
from explorer.analysis.table_format import RowsTable, human_bytes
from explorer.analysis.timing import (
    CUDA_PEAK_LOCK, Timing, format_ms, format_rate, noisy_note, spread_text, time_runs,
)
from explorer.model.build import build_model
from explorer.model.spec import ResNetSpec
from explorer.runtime.devices import DeviceKind
from explorer.runtime.i18n import _
from explorer.runtime.memory import DoesNotFit
from explorer.runtime.progress import Progress, Text, no_progress, part_of

TRAINING_BATCH = 32  # the batch the memory is said at: a usual one for ImageNet on one GPU
TRAINING_WARMUPS = 2  # steps before the timed ones: kernel choice, the optimizer's buffers, caches
TRAINING_REPEATS = 5
MOMENTUM = 0.9  # He et al. 2016's SGD: its buffer is one more float per weight
LEARNING_RATE = 1e-4  # a step costs the same at any rate; a small one keeps random labels from blowing weights up
PARAM_COPIES = 3.0  # weights, gradients, momentum


def training_step_batch(device: str) -> int:
    """The batch a training step is timed at: 32 on CUDA, 8 elsewhere (a CPU is slow)."""
    return TRAINING_BATCH if DeviceKind.of(device) is DeviceKind.CUDA else 8


@dataclass(frozen=True)
class TrainingMemory:
    """The estimated memory of training one model at one batch and input size, in bytes."""

    model: str  # the spec's name
    input_size: tuple[int, int]
    batch: int
    weights_bytes: int  # float32 parameters
    gradient_bytes: int  # one float32 gradient per parameter
    momentum_bytes: int  # SGD's momentum buffer, one float32 per parameter
    activation_bytes: int  # every layer's float32 output for the batch: what the backward keeps
    input_bytes: int  # the batch of images, float32

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.gradient_bytes + self.momentum_bytes + self.activation_bytes
                + self.input_bytes)


def training_memory(table: LayerTable, batch: int = TRAINING_BATCH) -> TrainingMemory:
    """Weights, gradients, SGD momentum and the batch's activations of ``table``'s model (see the module)."""
    totals = table.totals
    height, width = table.input_size
    return TrainingMemory(
        model=table.spec.name, input_size=table.input_size, batch=batch, weights_bytes=totals.param_bytes,
        gradient_bytes=totals.param_bytes, momentum_bytes=totals.param_bytes,
        activation_bytes=totals.activation_bytes * batch,
        input_bytes=batch * table.spec.in_channels * height * width * 4)  # (N, C, H, W) float32


def training_memory_table(a: TrainingMemory, b: TrainingMemory) -> RowsTable:
    """What training A and B holds in memory, part by part, and B over A."""
    columns = ("", f"A: {a.model}", f"B: {b.model}", "B / A")
    parts = ((_("Weights (float32)"), lambda m: m.weights_bytes),
             (_("Gradients (one per weight)"), lambda m: m.gradient_bytes),
             (_("SGD momentum (one per weight)"), lambda m: m.momentum_bytes),
             (_("Activations kept for the backward, batch {batch}").format(batch=a.batch), lambda m: m.activation_bytes),
             (_("Input batch"), lambda m: m.input_bytes),
             (_("Total"), lambda m: m.total_bytes))
    return RowsTable(columns, tuple(dict(zip(columns, (
        label, human_bytes(part(a)), human_bytes(part(b)), f"{part(b) / part(a):.2f}×" if part(a) else "–")))
        for label, part in parts))


def training_memory_text(a: TrainingMemory) -> str:
    """What the estimate counts and leaves out, in the reader's language."""
    return _("Estimated from the layer tables for a batch of {batch} images at {size} px, training with SGD and "
             "momentum in float32. Counted: the weights, a gradient and a momentum buffer per weight, every layer's "
             "output for the batch (what the backward keeps; an in-place ReLU shares its input's memory, so this "
             "counts a little over) and the input batch. Not counted: the gradients of the layer outputs while the "
             "backward runs, the framework's workspace and its cache, so a real run needs more (this server's memory "
             "guard reserves twice the activations). A training step does about 3× the MACs of a forward pass: the "
             "backward computes gradients for the layer inputs and for the weights, each about as costly as the "
             "forward.").format(batch=a.batch, size=size_text(a.input_size))


@dataclass(frozen=True)
class TrainingStep:
    """Timed training steps (forward, backward, SGD step) of one model at one batch on one device."""

    model: str  # the spec's name
    device: str
    input_size: tuple[int, int]
    batch: int
    timing: Timing  # milliseconds per step
    peak_bytes: int | None  # CUDA only: allocated above what was there before the model was built

    @property
    def images_per_second(self) -> float:
        """The batch over the median step."""
        return self.timing.per_second(self.batch)[0]


def measure_training_step(spec: ResNetSpec, input_size: int | tuple[int, int], device: str, batch: int,
                          progress: Progress = no_progress, repeats: int = TRAINING_REPEATS,
                          seed: int = 0) -> TrainingStep:
    """Time training steps of ``batch`` random images and labels on a model built for it.

    Raises ValueError for a batch under 2 (batch norm needs two values per channel to train),
    and `DoesNotFit` before building when the step would not fit in the memory free for it
    (weights, gradients and momentum, the activations and their gradients), or when the device
    runs out of memory all the same.
    """
    if batch < 2:
        raise ValueError(f"A training step needs a batch of at least 2 (batch norm), got {batch}.")
    table = layer_table(spec, input_size)
    what = _("A training step of {model} at {size} px with batch {batch}").format(
        model=spec.name, size=size_text(table.input_size), batch=batch)
    with reserved(spec, table.input_size, device, what, LOWER_BATCH, batch=batch, params=PARAM_COPIES,
                  activations=2.0):
        return _measure_training_step(spec, table, device, batch, progress, repeats, seed)


def _measure_training_step(spec: ResNetSpec, table: LayerTable, device: str, batch: int, progress: Progress,
                           repeats: int, seed: int) -> TrainingStep:
    """`measure_training_step` once the memory is held."""
    cuda = DeviceKind.of(device) is DeviceKind.CUDA
    steps = TRAINING_WARMUPS + repeats

    def said(fraction: float, text: Text = "", partial: object = None) -> None:
        progress(fraction, _("{model}, training batch {batch}: step {done} of {steps}").format(
            model=spec.name, batch=batch, done=round(fraction * steps), steps=steps))

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, spec.in_channels, *table.input_size, generator=generator)  # (N, C, H, W)
    labels = torch.randint(0, spec.num_classes, (batch,), generator=generator)  # (N,)
    model = optimizer = None
    try:
        with CUDA_PEAK_LOCK if cuda else contextlib.nullcontext(), torch.enable_grad():
            base = 0
            if cuda:
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            model = build_model(spec, device, seed=seed).train()  # a private model: its weights change
            optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
            x, labels = x.to(device), labels.to(device)

            def step() -> None:
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), labels).backward()
                optimizer.step()

            timing = time_runs(step, device, TRAINING_WARMUPS, repeats, said)
            peak = torch.cuda.max_memory_allocated() - base if cuda else None
    except torch.OutOfMemoryError:
        model = optimizer = x = labels = None  # drop the failed attempt's tensors, then give their blocks back
        torch.cuda.empty_cache()
        raise DoesNotFit(_("{model} ran out of memory on {device} training with batch {batch}: another session may "
                           "be using the device. Try again, or use a smaller input size.").format(
            model=spec.name, device=device, batch=batch)) from None
    return TrainingStep(spec.name, device, table.input_size, batch, timing, peak)


@dataclass(frozen=True)
class MeasuredSpeeds:
    """Compare's measurements of two models on one device: forwards at two batches, training steps."""

    inference: tuple[ThroughputReport, ...]  # A, B
    training: tuple[TrainingStep, ...]  # A, B

    def notes(self) -> list[str]:
        """A warning for each timing whose runs disagree by more than `timing.NOISY_SPREAD`."""
        timings = [(_("{model}, batch {batch}").format(model=r.model, batch=t.batch), t.timing)
                   for r in self.inference for t in r.timings]
        timings += [(_("{model}, training step").format(model=s.model), s.timing) for s in self.training]
        return [note for note in (noisy_note(what, timing) for what, timing in timings) if note]


def measure_speeds(specs: Sequence[ResNetSpec], input_size: int | tuple[int, int], device: str,
                   progress: Progress = no_progress) -> MeasuredSpeeds:
    """Forwards of each model at `throughput_batches` and its training steps at `training_step_batch`,
    one model after the other, with one progress (each part holds its own memory reservation)."""
    inference = measure_throughputs(specs, input_size, device, throughput_batches(device), part_of(progress, 0, 2))
    training = tuple(measure_training_step(spec, input_size, device, training_step_batch(device),
                                           part_of(part_of(progress, 1, 2), index, len(specs)))
                     for index, spec in enumerate(specs))
    return MeasuredSpeeds(inference, training)


def training_speed_table(a: TrainingStep, b: TrainingStep) -> RowsTable:
    """A's and B's training step: median and fastest–slowest run, images/s and (CUDA) peak memory,
    rounded as in `training_lines`."""
    columns = (_("Model"), _("Batch"), _("Step (ms), median"), _("Fastest–slowest (ms)"), _("Runs"),
               _("Images/s"), _("Peak memory"))
    return RowsTable(columns, tuple(dict(zip(columns, (
        f"{label}: {s.model}", s.batch, format_ms(s.timing.median), spread_text(s.timing), s.timing.runs,
        format_rate(s.images_per_second), human_bytes(s.peak_bytes) if s.peak_bytes is not None else _("CUDA only"))))
        for label, s in (("A", a), ("B", b))))


def training_lines(a: TrainingStep, b: TrainingStep) -> list[str]:
    """What a training step costs A and B, in the reader's language."""
    return [_("Training (forward, backward and an SGD step, batch {batch}): **{model_b}** trains on {rate_b} "
              "images/s against {rate_a} for **{model_a}**; a step takes {time_b} ms against {time_a} ms.").format(
        batch=b.batch, model_b=b.model, rate_b=format_rate(b.images_per_second), rate_a=format_rate(a.images_per_second),
        model_a=a.model, time_b=format_ms(b.timing.median), time_a=format_ms(a.timing.median))]

