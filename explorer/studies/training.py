"""Training on the shapes task: one backward pass's gradients, and a short, deterministic SGD loop.

Every function builds its own models from (spec, seed) and throws them away afterwards:
nothing here touches a shared model. The randomness of a run (weights, batches) comes from
its seed alone, through a `torch.Generator` of its own, never the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer.analysis.memory_needs import LOWER_BATCH, refuse_if_too_big, reserved
from explorer.model.build import build_model
from explorer.runtime.i18n import _
from explorer.runtime.progress import Progress, Text, no_progress, part_of
from explorer.data.shapes import task_batch, task_class_count
from explorer.model.spec import ResNetSpec

MIN_TRAIN_BATCH = 8  # BatchNorm's batch statistics are too noisy to train on below this
TASK_EXAMPLES = 512  # pictures of the shapes task drawn for a run; batches are sampled from them
MOMENTUM, WEIGHT_DECAY = 0.9, 1e-4  # He et al. 2016's SGD settings
WARMUP_STEPS = 10  # learning-rate warm-up, as He et al. (2016) warm up their deepest CIFAR nets
SUMMARY_WINDOW = 10  # steps averaged at each end of a run: one batch's accuracy is noisy


@dataclass(frozen=True)
class TrainStep:
    """One optimisation step."""

    step: int
    loss: float
    accuracy: float  # on this step's batch


def sgd_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """One optimisation step on the batch ``x`` (B, C, H, W) with labels ``y`` (B,): its loss and accuracy."""
    logits = model(x)  # (B, classes)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach()), float((logits.argmax(1) == y).float().mean())


def sgd(model: nn.Module, lr: float) -> torch.optim.SGD:
    """He et al. 2016's optimizer for ``model``: SGD with `MOMENTUM` and `WEIGHT_DECAY`."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)


def train(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, steps: int, batch_size: int = 32,
          lr: float = 0.05, seed: int = 0, progress: Progress = no_progress,
          warmup: int = WARMUP_STEPS) -> list[TrainStep]:
    """SGD with momentum on ``inputs`` (N, C, H, W); the same batches for the same seed.

    The learning rate rises linearly over the first ``warmup`` steps, so a deep net does not
    diverge in its first steps. ``progress`` gets the history so far after every step (the
    text is the caller's to say) and may stop the run by raising `RunStopped`.
    The model is trained in place and left in eval mode.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = sgd(model, lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(warmup, 1)))
    device = next(model.parameters()).device
    history: list[TrainStep] = []
    model.train()
    try:
        for step in range(steps):
            batch = torch.randint(0, len(inputs), (min(batch_size, len(inputs)),), generator=generator)
            x, y = inputs[batch].to(device), labels[batch].to(device)  # (B, C, H, W), (B,)
            loss, accuracy = sgd_step(model, optimizer, x, y)
            schedule.step()
            record = TrainStep(step, loss, accuracy)
            history.append(record)
            progress((step + 1) / steps, "", history)
            if not math.isfinite(record.loss):
                break
    finally:
        model.eval()
    return history



@dataclass(frozen=True)
class RunSummary:
    """Where one training run ended, for a caption or a printed table: what its curves show at their right end.

    The page and the CLI print the same numbers. The means over the last `SUMMARY_WINDOW`
    steps are the ones to compare runs by: one batch's loss and accuracy are noisy.
    """

    label: str
    steps: int  # steps that ran
    final_loss: float  # of the last step's batch
    final_accuracy: float  # on the last step's batch
    late_loss: float  # mean loss over the last SUMMARY_WINDOW steps
    late_accuracy: float  # mean batch accuracy over the last SUMMARY_WINDOW steps


def summarize(label: str, history: Sequence[TrainStep]) -> RunSummary:
    """The summary of a run of at least one step."""
    if not history:
        raise ValueError(_("{label} ran no step, so there is nothing to summarize.").format(label=label))
    late = history[-SUMMARY_WINDOW:]
    return RunSummary(label, len(history), history[-1].loss, history[-1].accuracy,
                      sum(s.loss for s in late) / len(late), sum(s.accuracy for s in late) / len(late))


def summary_text(histories: dict[str, Sequence[TrainStep]]) -> str:
    """ "Where the runs end (mean of the last 10 steps): plain-20 loss 0.912, accuracy 62%; …" in the
    reader's language, for runs of at least one step; a run shorter than the window says its
    steps. Labels are shown as given: say them in the reader's language first."""
    parts = []
    for label, history in histories.items():
        s = summarize(label, history)
        shown = label if s.steps >= SUMMARY_WINDOW else _("{label} ({steps} steps)").format(label=label, steps=s.steps)
        parts.append(_("{label} loss {loss:.3f}, accuracy {accuracy:.0%}").format(
            label=shown, loss=s.late_loss, accuracy=s.late_accuracy))
    return _("Where the runs end (mean of the last {steps} steps): {runs}").format(steps=SUMMARY_WINDOW,
                                                                                   runs=_("; ").join(parts))


def with_task_head(spec: ResNetSpec, classes: int | None = None) -> ResNetSpec:
    """``spec`` with a head for the shapes task: its fc replaced by one with an output per class.

    ``classes`` defaults to the task's classes for ``spec`` (`task_class_count`: 2 to 4, so 4
    for a 1000-way ImageNet net or a 10-way CIFAR net). The studies build their models from
    this spec; a model with outputs no picture is labelled with starts at a loss near ln(1000)
    and spends its first steps learning only that those classes never occur.
    """
    return spec.with_changes(num_classes=classes if classes is not None else task_class_count(spec.num_classes))


def task_specs(specs: dict[str, ResNetSpec]) -> dict[str, ResNetSpec]:
    """The models a run of ``specs`` trains: each with a head for the one task they share
    (`with_task_head`, with the classes of the spec with the fewest outputs)."""
    classes = task_class_count(min(spec.num_classes for spec in specs.values()))
    return {label: with_task_head(spec, classes) for label, spec in specs.items()}


@dataclass(frozen=True)
class LayerGradient:
    """L2 norm of a conv or fc weight's gradient after one backward pass."""

    name: str
    norm: float


def gradient_norms(spec: ResNetSpec, seed: int, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[LayerGradient, ...]:
    """Gradient norm of every conv and fc weight, in execution order, after one backward pass."""
    model = build_model(spec, seed=seed).train()
    loss = F.cross_entropy(model(inputs), labels)
    loss.backward()
    return tuple(
        LayerGradient(name, float(module.weight.grad.norm()))
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight.grad is not None
    )


def training_memory(spec: ResNetSpec, input_size: int, batch_size: int):
    """The CPU memory of training ``spec``, held while the block runs, or `DoesNotFit` before it.

    Weights, their gradients and SGD momentum (3x the parameters), plus every activation of
    the batch twice (kept for backward, and its gradient).
    """
    return reserved(spec, input_size, "cpu", _training_what(spec, input_size, batch_size), LOWER_BATCH,
                    batch=batch_size, params=3.0, activations=2.0)


def check_training_memory(spec: ResNetSpec, input_size: int, batch_size: int) -> None:
    """Refuse now (`DoesNotFit`) training that `training_memory` would refuse: asked before a run starts."""
    refuse_if_too_big(spec, input_size, "cpu", _training_what(spec, input_size, batch_size), LOWER_BATCH,
                      batch=batch_size, params=3.0, activations=2.0)


def twins_batch(models: dict[str, ResNetSpec], seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One batch of the shapes task for a study of twins at their own input size (32 px for CIFAR nets),
    after every twin's training memory is checked (`DoesNotFit` before anything is built): the inputs,
    the labels and that size."""
    spec = next(iter(models.values()))
    size = spec.natural_input_size
    for model_spec in models.values():
        check_training_memory(model_spec, size, batch_size)
    inputs, labels = task_batch(batch_size, size, spec.num_classes, seed)
    return inputs, labels, size


def _training_what(spec: ResNetSpec, input_size: int, batch_size: int) -> str:
    return _("Training {name} at {size}x{size} with batch {batch}").format(name=spec.name, size=input_size,
                                                                            batch=batch_size)


def train_models(specs: dict[str, ResNetSpec], steps: int, batch_size: int = 32, lr: float = 0.05, seed: int = 0,
                 input_size: int = 32, examples: int = TASK_EXAMPLES,
                 progress: Progress = no_progress) -> dict[str, list[TrainStep]]:
    """Train each spec from the same seed on the same batches of the shapes task.

    Every model gets a head for the task (`task_specs`): one output per shape class, so the
    loss starts near ln(classes) (1.39 for 4), not near ln(1000) with 996 outputs no picture
    is ever labelled with.
    Batches below `MIN_TRAIN_BATCH` are raised to it. ``progress`` gets, after every step, the
    step said as `step_text` and the curves so far (every model's); raising `RunStopped` from
    it stops everything (the page's stop button). Deterministic for a seed.
    """
    batch_size = max(batch_size, MIN_TRAIN_BATCH)
    specs = task_specs(specs)
    for spec in specs.values():
        check_training_memory(spec, input_size, batch_size)
    inputs, labels = task_batch(examples, input_size, min(spec.num_classes for spec in specs.values()), seed)
    histories: dict[str, list[TrainStep]] = {label: [] for label in specs}
    for index, (label, spec) in enumerate(specs.items()):
        model_progress = part_of(progress, index, len(specs))

        def report(fraction: float, text: Text = "", partial: object = None, label: str = label) -> None:
            histories[label] = partial  # train's own history, growing
            model_progress(fraction, step_text(label, partial[-1], steps), histories)

        with training_memory(spec, input_size, batch_size):
            histories[label] = train(build_model(spec, seed=seed), inputs, labels, steps, batch_size, lr, seed, report)
    return histories


@dataclass(frozen=True)
class TrainingRun:
    """Everything that determines a training run's curves: the key a whole class shares it under.

    Runs are deterministic for these fields (the seed drives weights and batches through
    private generators), so equal keys mean equal curves; torch's version is part of the key
    because its kernels can change the last digits.
    """

    specs: tuple[tuple[str, ResNetSpec], ...]  # (label, spec) in training order
    steps: int
    batch_size: int
    lr: float
    seed: int
    input_size: int
    torch_version: str = torch.__version__

    @classmethod
    def of(cls, specs: dict[str, ResNetSpec], steps: int, batch_size: int, lr: float, seed: int,
           input_size: int) -> TrainingRun:
        return cls(tuple(specs.items()), steps, max(batch_size, MIN_TRAIN_BATCH), lr, seed, input_size)

    def check_memory(self) -> None:
        """`check_training_memory` for every model of the run (`DoesNotFit`), before it starts: a
        session asks this itself, so the refusal is said in its reader's language."""
        for spec in task_specs(dict(self.specs)).values():
            check_training_memory(spec, self.input_size, self.batch_size)

    def train(self, progress: Progress = no_progress) -> dict[str, list[TrainStep]]:
        """`train_models` for this run's settings, reporting the curves so far to ``progress``."""
        return train_models(dict(self.specs), self.steps, self.batch_size, self.lr, self.seed, self.input_size,
                            progress=progress)


def step_text(label: str, step: TrainStep, steps: int) -> Text:
    """A run's progress after ``step``, said when shown: "ResNet-20: step 3/60, loss 2.301"."""
    return lambda: _("{label}: step {step}/{steps}, loss {loss:.3f}").format(
        label=label, step=step.step + 1, steps=steps, loss=step.loss)


def curves_bytes(curves: dict[str, list[TrainStep]]) -> int:
    """About what a run's curves cost to keep (three floats and an int a step, with overhead)."""
    return 200 * sum(len(h) for h in curves.values()) + 1000
