"""What a training run costs on this server before it runs, and settings that fit a lesson.

A training step costs about three forward passes in multiply-accumulates (the forward, then
backward's gradients of the activations and of the weights), plus a cost per step that does
not grow with the batch: a kernel launch per layer, the optimizer's loop over every
parameter, Python. At the small pictures a lesson trains on, that fixed part is a large
share of a deep net's step, so one MAC rate would misjudge it. `measure_step_cost` times
real steps of the model at two batch sizes and fits ``seconds = fixed + per_mac × MACs``
(the forward MACs from the layer table); `run_seconds` scales that to a run's settings, and
`fitting_settings` picks the page's defaults, so that a study finishes in `CLASS_SECONDS`
on this server when nothing else runs (issue 23: ResNet-50's twins took 75 s at the old
defaults, and the first visit 31 s).

Timings are this process's: its device, its threads, and whatever else the server was doing
while it measured (a busy server measures slow, so its defaults come out smaller).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from explorer.analysis.anatomy import layer_table
from explorer.model.build import build_model
from explorer.model.kinds import Shortcut
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import _
from explorer.studies.training import (
    MIN_TRAIN_BATCH, TrainingRun, sgd, sgd_step, task_specs, training_memory, with_task_head,
)

CLASS_SECONDS = 60.0  # a lesson step's heavy study (the twins, the degradation study) runs in about a minute alone
PROBE_SIZE = 32  # px: the smallest picture a lesson trains on (an ImageNet net's last map is 1×1 there)
PROBE_BATCHES = (MIN_TRAIN_BATCH, 2 * MIN_TRAIN_BATCH)  # two batch sizes fit the fixed and the per-MAC cost
PROBE_REPEATS = 2  # timed steps per batch size; the fastest counts (a busy moment only slows one)
# The page's (steps, batch), in order of preference, each fewer pictures than the one before. Fewer
# steps of 32 go before smaller batches: on the degradation study (seed 0) 40 x 32 left plain-56
# at 1.415 and plain-20 at 0.846 with both ResNets below 0.3, where 60 x 16 let ResNet-56 end
# above ResNet-20 (0.501 and 0.177). Below 20 steps (10 of them warm-up) curves show too little.
STEPS_AND_BATCHES = ((60, 32), (40, 32), (30, 32), (40, 16), (30, 16), (20, 16), (20, MIN_TRAIN_BATCH))
SIZE_CHOICES = (64, 48, 32)  # px, each at most the model's own input size and at least its output stride


@dataclass(frozen=True)
class StepCost:
    """One training step of a model on this server, measured: seconds = fixed + per_mac × forward MACs."""

    spec: ResNetSpec  # as trained: with its head for the task (`with_task_head`)
    build_seconds: float  # building the model from a seed (each model of a run is built once)
    fixed_seconds: float  # per step, whatever the batch and picture size
    seconds_per_mac: float  # per multiply-accumulate of the forward pass; the step's backward included
    measured: tuple[tuple[int, int, float], ...]  # (picture size, batch, seconds) of the steps it was fitted to

    def step_seconds(self, input_size: int, batch_size: int) -> float:
        """One step at ``input_size`` px with ``batch_size`` pictures."""
        return self.fixed_seconds + self.seconds_per_mac * forward_macs(self.spec, input_size) * batch_size

    def run_seconds(self, steps: int, input_size: int, batch_size: int) -> float:
        """Building the model and training it ``steps`` steps."""
        return self.build_seconds + steps * self.step_seconds(input_size, batch_size)


def forward_macs(spec: ResNetSpec, input_size: int) -> int:
    """Multiply-accumulates of one picture's forward pass (the layer table's; no weights made)."""
    return layer_table(spec, input_size).totals.macs


def cost_basis(spec: ResNetSpec) -> ResNetSpec:
    """The spec whose measured step stands for ``spec``'s: as trained (its task head), flag off, with
    its family's shortcuts.

    ``zero_init_residual`` changes only initial values, so both twins cost one measurement; a
    plain net costs what its residual twin does less a few additions, so the degradation
    study's plain and residual nets of one depth share one too.
    """
    shortcut = spec.family.shortcut if spec.shortcut is Shortcut.NONE else spec.shortcut
    return with_task_head(spec).with_changes(zero_init_residual=False, shortcut=shortcut)


def probe_size(spec: ResNetSpec) -> int:
    """The picture side the probe steps run at: `PROBE_SIZE`, or the model's output stride if larger."""
    return max(PROBE_SIZE, spec.output_stride)


def measure_step_cost(spec: ResNetSpec, seed: int = 0) -> StepCost:
    """Time real SGD steps of ``spec`` (`cost_basis`) at `probe_size` and fit a `StepCost`.

    One untimed step first (the first call allocates and picks its kernels), then
    `PROBE_REPEATS` steps at each of `PROBE_BATCHES`, the fastest of each counting. The fixed
    and per-MAC parts are the line through the two points (all per-MAC where a busy moment
    tilts it below zero). As long as one build and five steps at 32 px; `DoesNotFit` before
    anything is built when the larger probe batch would not fit in memory. The pictures are
    random numbers from a generator of its own: a step's time does not depend on what they show.
    """
    spec = cost_basis(spec)
    size, batches = probe_size(spec), PROBE_BATCHES
    with training_memory(spec, size, max(batches)):
        started = time.perf_counter()
        model = build_model(spec, seed=seed).train()
        build_seconds = time.perf_counter() - started
        generator = torch.Generator().manual_seed(seed)
        inputs = torch.randn(max(batches), 3, size, size, generator=generator)  # (B, 3, S, S)
        labels = torch.arange(max(batches)) % spec.num_classes  # (B,)
        optimizer = sgd(model, lr=0.01)
        sgd_step(model, optimizer, inputs, labels)  # warm-up, not timed
        timings = []
        for batch in batches:
            seconds = []
            for _repeat in range(PROBE_REPEATS):
                started = time.perf_counter()
                sgd_step(model, optimizer, inputs[:batch], labels[:batch])
                seconds.append(time.perf_counter() - started)
            timings.append((size, batch, min(seconds)))
    (_, small_batch, small), (_, large_batch, large) = timings
    small_macs, large_macs = (forward_macs(spec, size) * batch for batch in (small_batch, large_batch))
    per_mac = (large - small) / (large_macs - small_macs)
    fixed = small - per_mac * small_macs
    if per_mac <= 0 or fixed < 0:  # a busy moment bent the line: count the larger step as per-MAC work alone
        per_mac, fixed = large / large_macs, 0.0
    return StepCost(spec, build_seconds, fixed, per_mac, tuple(timings))


@dataclass(frozen=True)
class TrainingSettings:
    """What a study's run is trained with, besides its models, learning rate and seed."""

    steps: int
    batch_size: int
    input_size: int  # px, the side of the training pictures


def run_seconds(costs: Sequence[StepCost], settings: TrainingSettings) -> float:
    """A run of one model per cost with ``settings``, on this server alone (drawing its pictures not counted)."""
    batch = max(settings.batch_size, MIN_TRAIN_BATCH)
    return sum(cost.run_seconds(settings.steps, settings.input_size, batch) for cost in costs)


def training_sizes(spec: ResNetSpec) -> tuple[int, ...]:
    """The picture sizes a lesson trains ``spec`` at, largest first: `SIZE_CHOICES` up to the model's
    own input size (32 px for a CIFAR net) and at least its output stride."""
    sizes = tuple(s for s in SIZE_CHOICES if spec.output_stride <= s <= spec.natural_input_size)
    return sizes or (max(spec.output_stride, min(SIZE_CHOICES)),)


def fitting_settings(costs: Sequence[StepCost] | None, sizes: Sequence[int],
                     seconds: float = CLASS_SECONDS) -> TrainingSettings:
    """The first settings, in order of preference, whose run fits in ``seconds`` (`run_seconds`).

    The picture size gives way first (``sizes``, largest first), then the steps and the batch
    (`STEPS_AND_BATCHES`). When even the cheapest does not fit, or nothing could be measured
    (``costs`` None: the probe did not fit in memory), the cheapest: the page then says how
    long it will take.
    """
    candidates = [TrainingSettings(steps, batch, size) for steps, batch in STEPS_AND_BATCHES for size in sizes]
    if costs is not None:
        for settings in candidates:
            if run_seconds(costs, settings) <= seconds:
                return settings
    return candidates[-1]


def model_costs(specs: dict[str, ResNetSpec], cost_of: Callable[[ResNetSpec], StepCost]) -> tuple[StepCost, ...]:
    """A `StepCost` for every model a run of ``specs`` trains, in order, from ``cost_of(spec)`` (a
    cached `measure_step_cost`) asked once per `cost_basis`: both twins share one measurement."""
    bases = [cost_basis(spec) for spec in task_specs(specs).values()]
    measured = {basis: cost_of(basis) for basis in dict.fromkeys(bases)}
    return tuple(measured[basis] for basis in bases)


def estimate_text(costs: Sequence[StepCost], run: TrainingRun) -> str:
    """ "≈ 45 s on this server (2 models × 60 steps; one step ≈ 180 ms, measured here)", in the
    reader's language: what ``run`` will take when the server has nothing else to do."""
    settings = TrainingSettings(run.steps, run.batch_size, run.input_size)
    total = run_seconds(costs, settings)
    steps = [cost.step_seconds(run.input_size, run.batch_size) * 1000 for cost in costs]
    low, high = min(steps), max(steps)
    step = (_("{ms:.0f} ms").format(ms=low) if round(low) == round(high)
            else _("{low:.0f}–{high:.0f} ms").format(low=low, high=high))
    duration = _("{seconds:.0f} s").format(seconds=total) if total < 90 else _("{minutes:.0f} min").format(
        minutes=total / 60)
    return _("≈ {duration} on this server ({models} models × {steps} steps; one step ≈ {step}, from steps "
             "measured here)").format(duration=duration, models=len(costs), steps=run.steps, step=step)
