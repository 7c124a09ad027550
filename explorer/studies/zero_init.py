"""The zero_init_residual study: twin models from one seed, with and without the flag.

With ``zero_init_residual=True`` the last BN of every residual branch starts with γ = 0, so
the branch outputs β = 0 and a block without a projection returns relu(x + 0) = x for its
non-negative input: every such block starts as the identity (Goyal et al. 2017,
https://arxiv.org/abs/1706.02677; He et al. 2019 "Bag of Tricks").

Every function builds its own models from (spec, seed): nothing here touches a shared model.
Statistics at initialisation use BN in training mode (batch statistics), as in the first
step of training; the models are thrown away afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.model.build import build_model, is_block, residual_branch_end
from explorer.data.shapes import task_batch
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import _
from explorer.studies.training import LayerGradient, gradient_norms, training_memory, with_task_head


@dataclass(frozen=True)
class BlockStat:
    """One residual block at initialisation, on one batch."""

    name: str  # "layer2.0"
    projection: bool  # has a downsample (projection / zero-pad) shortcut
    branch_ratio: float  # ‖F(x)‖ / ‖shortcut(x)‖ over the batch
    identity: bool  # the block's output equals its input exactly
    variance: float  # of the block output: mean over channels of the channel variance
    mean_square: float  # of the block output: mean over channels of the squared channel mean


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if is_block(m)]


def block_statistics(spec: ResNetSpec, seed: int, inputs: torch.Tensor) -> tuple[BlockStat, ...]:
    """Per-block branch ratio, identity check and signal propagation at initialisation."""
    model = build_model(spec, seed=seed).train()
    seen: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for name, block in _blocks(model):
        record = seen.setdefault(name, {})
        handles.append(block.register_forward_pre_hook(lambda m, a, r=record: r.__setitem__("x", a[0].clone())))
        handles.append(block.get_submodule(residual_branch_end(block)).register_forward_hook(
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


@dataclass(frozen=True)
class TwinInit:
    """Both twins at initialisation: with and without zero_init_residual."""

    on: tuple[BlockStat, ...]
    off: tuple[BlockStat, ...]
    gradients_on: tuple[LayerGradient, ...]
    gradients_off: tuple[LayerGradient, ...]


def twin_init(spec: ResNetSpec, seed: int = 0, batch_size: int = 16, input_size: int = 32) -> TwinInit:
    """The init study for ``spec``: the same seed and batch for both twins, each with the head
    the training runs give it (`with_task_head`), so step 0 here is step 0 of their curves.

    Raises `DoesNotFit` before anything is built when a training step of ``spec`` would not
    fit in the memory free for it; the memory is held while the study runs (one twin at a time).
    """
    spec = with_task_head(spec)
    with training_memory(spec, input_size, batch_size):
        inputs, labels = task_batch(batch_size, input_size, spec.num_classes, seed)
        on, off = spec.with_changes(zero_init_residual=True), spec.with_changes(zero_init_residual=False)
        return TwinInit(
            on=block_statistics(on, seed, inputs), off=block_statistics(off, seed, inputs),
            gradients_on=gradient_norms(on, seed, inputs, labels),
            gradients_off=gradient_norms(off, seed, inputs, labels),
        )


INIT_BATCH = 8  # pictures the page measures the twins at initialisation on: enough for BN's batch statistics, and quick

# The twins' labels: code, in every language (chart series, and the key a class shares a run under).
FLAG_ON, FLAG_OFF = "zero_init_residual=True", "zero_init_residual=False"


def twins(spec: ResNetSpec) -> dict[str, ResNetSpec]:
    """The zero_init_residual twins, labelled for charts."""
    return {FLAG_ON: spec.with_changes(zero_init_residual=True), FLAG_OFF: spec.with_changes(zero_init_residual=False)}


def identity_rows(study: TwinInit) -> list[dict[str, object]]:
    """One table row per block: is it exactly the identity at step 0 with the flag on and off,
    and its branch-to-shortcut ratio both ways (labels in the reader's language)."""
    exactly, yes = _("✓ exactly"), _("yes")
    return [{
        _("block"): on.name, _("projection shortcut"): yes if on.projection else "",
        _("identity, flag on"): exactly if on.identity else "✗", _("identity, flag off"): exactly if off.identity else "✗",
        _("‖F‖/‖x‖ flag on"): round(on.branch_ratio, 4), _("‖F‖/‖x‖ flag off"): round(off.branch_ratio, 4),
    } for on, off in zip(study.on, study.off)]
