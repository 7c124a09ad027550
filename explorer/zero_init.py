"""The zero_init_residual study, and the plain-vs-residual degradation study.

With ``zero_init_residual=True`` the last BN of every residual branch starts with γ = 0, so
the branch outputs β = 0 and a block without a projection returns relu(x + 0) = x for its
non-negative input: every such block starts as the identity (Goyal et al. 2017,
https://arxiv.org/abs/1706.02677; He et al. 2019 "Bag of Tricks"). Without shortcuts
("plain" nets), deeper networks train worse than shallower ones: the degradation problem
(He et al. 2016, Fig. 1 and section 4.2).

Every function builds its own models from (spec, seed): nothing here touches a shared model.
Statistics at initialisation use BN in training mode (batch statistics), as in the first
step of training; the models are thrown away afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from explorer.anatomy import layer_table
from explorer.build import build_model, residual_branch_last_bn
from explorer.devices import check_fits
from explorer.images import Preprocessing, preprocess
from explorer.spec import ResNetSpec, Shortcut
from explorer.synthetic import TrainStep, class_names, shapes_images, train


@dataclass(frozen=True)
class BlockStat:
    """One residual block at initialisation, on one batch."""

    name: str  # "layer2.0"
    projection: bool  # has a downsample (projection / zero-pad) shortcut
    branch_ratio: float  # ‖F(x)‖ / ‖shortcut(x)‖ over the batch
    identity: bool  # the block's output equals its input exactly
    variance: float  # of the block output: mean over channels of the channel variance
    mean_square: float  # of the block output: mean over channels of the squared channel mean


@dataclass(frozen=True)
class LayerGradient:
    """L2 norm of a conv or fc weight's gradient after one backward pass."""

    name: str
    norm: float


def task_batch(count: int, input_size: int, num_classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes pictures (no colour cue), preprocessed at ``input_size``: (N, 3, S, S) and labels."""
    classes = max(2, min(num_classes, 4))
    pictures, labels = shapes_images(count, size=round(input_size * 1.15), num_classes=classes, seed=seed,
                                     colour_cue=False)
    settings = Preprocessing.for_size(input_size)
    return torch.stack([preprocess(p, settings).tensor for p in pictures]), torch.tensor(labels) % max(num_classes, 1)


def check_training_memory(spec: ResNetSpec, input_size: int, batch_size: int) -> None:
    """Refuse (`DoesNotFit`) a training step that would not fit in free CPU memory.

    Weights, their gradients and SGD momentum (3x the parameters), plus every activation of
    the batch twice (kept for backward, and its gradient).
    """
    totals = layer_table(spec, input_size).totals
    check_fits(3 * totals.param_bytes, 2 * totals.activation_bytes * batch_size, "cpu",
               f"Training {spec.name} at {input_size}x{input_size} with batch {batch_size}")


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]


def block_statistics(spec: ResNetSpec, seed: int, inputs: torch.Tensor) -> tuple[BlockStat, ...]:
    """Per-block branch ratio, identity check and signal propagation at initialisation."""
    model = build_model(spec, seed=seed).train()
    seen: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for name, block in _blocks(model):
        record = seen.setdefault(name, {})
        handles.append(block.register_forward_pre_hook(lambda m, a, r=record: r.__setitem__("x", a[0].clone())))
        handles.append(residual_branch_last_bn(block).register_forward_hook(
            lambda m, a, out, r=record: r.__setitem__("branch", out.clone())))  # before the in-place add
        if block.downsample is not None:
            handles.append(block.downsample.register_forward_hook(
                lambda m, a, out, r=record: r.__setitem__("shortcut", out.clone())))
        handles.append(block.register_forward_hook(lambda m, a, out, r=record: r.__setitem__("out", out.clone())))
    with torch.no_grad():
        model(inputs)
    for handle in handles:
        handle.remove()
    stats = []
    for name, block in _blocks(model):
        r = seen[name]
        shortcut = r.get("shortcut", r["x"])
        out = r["out"]  # (N, C, H, W)
        channel_mean = out.mean(dim=(0, 2, 3))
        stats.append(BlockStat(
            name=name,
            projection=block.downsample is not None,
            branch_ratio=float(r["branch"].norm() / shortcut.norm()) if shortcut.norm() > 0 else float("inf"),
            identity=out.shape == r["x"].shape and torch.equal(out, r["x"]),
            variance=float(out.var(dim=(0, 2, 3)).mean()),
            mean_square=float((channel_mean ** 2).mean()),
        ))
    return tuple(stats)


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


@dataclass(frozen=True)
class TwinInit:
    """Both twins at initialisation: with and without zero_init_residual."""

    on: tuple[BlockStat, ...]
    off: tuple[BlockStat, ...]
    gradients_on: tuple[LayerGradient, ...]
    gradients_off: tuple[LayerGradient, ...]


def twin_init(spec: ResNetSpec, seed: int = 0, batch_size: int = 16, input_size: int = 32) -> TwinInit:
    """The init study for ``spec``: the same seed and batch for both twins."""
    check_training_memory(spec, input_size, batch_size)
    inputs, labels = task_batch(batch_size, input_size, spec.num_classes, seed)
    on, off = spec.with_changes(zero_init_residual=True), spec.with_changes(zero_init_residual=False)
    return TwinInit(
        on=block_statistics(on, seed, inputs), off=block_statistics(off, seed, inputs),
        gradients_on=gradient_norms(on, seed, inputs, labels), gradients_off=gradient_norms(off, seed, inputs, labels),
    )


def train_models(specs: dict[str, ResNetSpec], steps: int, batch_size: int = 32, lr: float = 0.05, seed: int = 0,
                 input_size: int = 32, examples: int = 512,
                 on_step: Callable[[str, TrainStep], bool | None] | None = None) -> dict[str, list[TrainStep]]:
    """Train each spec from the same seed on the same batches of the shapes task.

    ``on_step(label, step)`` sees every step and may return False to stop everything (the
    page's stop button and progress bar). Deterministic for a seed.
    """
    for spec in specs.values():
        check_training_memory(spec, input_size, batch_size)
    num_classes = min(spec.num_classes for spec in specs.values())
    inputs, labels = task_batch(examples, input_size, num_classes, seed)
    histories: dict[str, list[TrainStep]] = {}
    stopped = False
    for label, spec in specs.items():
        if stopped:
            break
        model = build_model(spec, seed=seed)

        def report(step: TrainStep, label: str = label) -> bool:
            nonlocal stopped
            if on_step is not None and on_step(label, step) is False:
                stopped = True
                return False
            return True

        histories[label] = train(model, inputs, labels, steps, batch_size, lr, seed, report)
    return histories


def twins(spec: ResNetSpec) -> dict[str, ResNetSpec]:
    """The zero_init_residual twins, labelled for charts."""
    return {"zero_init_residual=True": spec.with_changes(zero_init_residual=True),
            "zero_init_residual=False": spec.with_changes(zero_init_residual=False)}


def degradation_models(*specs: ResNetSpec) -> dict[str, ResNetSpec]:
    """Plain and residual versions of each spec, e.g. depths 20 and 56 (the paper's Fig. 1 / Fig. 6)."""
    models = {}
    for spec in specs:
        residual = spec if spec.shortcut is not Shortcut.NONE else spec.with_changes(shortcut=Shortcut.A if spec.is_cifar else Shortcut.B)
        models[f"plain-{spec.depth}"] = residual.with_changes(shortcut=Shortcut.NONE)
        models[f"ResNet-{spec.depth}"] = residual
    return models


def task_classes(num_classes: int) -> tuple[str, ...]:
    """Names of the shapes task's classes for a model with ``num_classes`` outputs."""
    return class_names(max(2, min(num_classes, 4)), colour_cue=False)
