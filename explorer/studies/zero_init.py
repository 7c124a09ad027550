"""The zero_init_residual study: twin models from one seed, with and without the flag.

With ``zero_init_residual=True`` every residual branch ends in a zero, as timm's
``zero_init_last`` makes it (`zero_init_target`): in a post-activation block (the 2015 block,
with or without a channel gate) the γ of the branch's last BN, so the branch outputs β = 0
and a block without a projection returns relu(x + 0) = x for its non-negative input; in a
pre-activation block (ResNet v2, which ends its branch in a conv) that conv's weight, so the
block returns x + 0 = x. A gate after the zero multiplies zeros. Either way every such block
starts as the identity (Goyal et al. 2017, https://arxiv.org/abs/1706.02677; He et al. 2019
"Bag of Tricks").

Every function builds its own models from (spec, seed): nothing here touches a shared model.
Statistics at initialisation use BN in training mode (batch statistics), as in the first
step of training; the models are thrown away afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from explorer.model.build import build_model, is_block, residual_branch_end, zero_init_target
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
    shortcut_only: bool  # the output is the shortcut's alone (after the ReLU a post-activation block ends in)
    variance: float  # of the block output: mean over channels of the channel variance
    mean_square: float  # of the block output: mean over channels of the squared channel mean


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every residual block of ``model`` with its qualified name, in order."""
    return [(n, m) for n, m in model.named_modules() if is_block(m)]


def record_blocks(model: nn.Module, inputs: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """One forward pass of a private ``model`` on ``inputs``, keeping for every block its input "x",
    its branch "branch" (F(x): the output of `residual_branch_end`, the gate's for a gated block),
    its "shortcut" where it has a shortcut module, and its output "out" (copies, before any
    in-place add). Hooks are registered on ``model`` and removed before returning."""
    seen: dict[str, dict[str, torch.Tensor]] = {}
    handles = []
    for name, block in residual_blocks(model):
        record = seen.setdefault(name, {})
        handles.append(block.register_forward_pre_hook(lambda m, a, r=record: r.__setitem__("x", a[0].clone())))
        handles.append(block.get_submodule(residual_branch_end(block)).register_forward_hook(
            lambda m, a, out, r=record: r.__setitem__("branch", out.clone())))  # before the in-place add
        if block.downsample is not None:
            handles.append(block.downsample.register_forward_hook(
                lambda m, a, out, r=record: r.__setitem__("shortcut", out.clone())))
        handles.append(block.register_forward_hook(lambda m, a, out, r=record: r.__setitem__("out", out.clone())))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def block_statistics(spec: ResNetSpec, seed: int, inputs: torch.Tensor) -> tuple[BlockStat, ...]:
    """Per-block branch ratio, identity check and signal propagation at initialisation."""
    model = build_model(spec, seed=seed).train()
    seen = record_blocks(model, inputs)
    stats = []
    for name, block in residual_blocks(model):
        r = seen[name]
        shortcut = r.get("shortcut", r["x"])
        out = r["out"]  # (N, C, H, W)
        alone = shortcut if spec.preact else torch.relu(shortcut)  # nothing follows a pre-activation block's add
        channel_mean = out.mean(dim=(0, 2, 3))
        stats.append(BlockStat(
            name=name,
            projection=block.downsample is not None,
            branch_ratio=float(r["branch"].norm() / shortcut.norm()) if shortcut.norm() > 0 else float("inf"),
            identity=out.shape == r["x"].shape and torch.equal(out, r["x"]),
            shortcut_only=out.shape == alone.shape and torch.equal(out, alone),
            variance=float(out.var(dim=(0, 2, 3)).mean()),
            mean_square=float((channel_mean ** 2).mean()),
        ))
    return tuple(stats)


@dataclass(frozen=True)
class ZeroTarget:
    """What ``zero_init_residual`` zeroes in the blocks of one kind of a model."""

    block_kind: str  # the block's class, e.g. "Bottleneck", "PreActBottleneck"
    parameter: str  # within the block: "bn3.weight" (a BN's γ) or "conv3.weight"
    gate: str | None  # the class of the gate on the branch after it ("SqueezeExcitation"), or None
    blocks: tuple[str, ...]  # the qualified names of these blocks, in order

    @property
    def is_gamma(self) -> bool:
        return self.parameter.startswith("bn")


@lru_cache(maxsize=64)  # frozen data of a spec, read on every run of the page
def zero_init_targets(spec: ResNetSpec) -> tuple[ZeroTarget, ...]:
    """For each kind of block in ``spec``'s model (class, zeroed parameter, gate), what
    `zero_init_target` zeroes and in which blocks (a meta model: no weights made)."""
    kinds: dict[tuple[str, str, str | None], list[str]] = {}
    for name, block in residual_blocks(build_model(spec, "meta")):
        gate = getattr(block, "se", None)
        key = (type(block).__name__, f"{zero_init_target(block)[0]}.weight", type(gate).__name__ if gate else None)
        kinds.setdefault(key, []).append(name)
    return tuple(ZeroTarget(kind, parameter, gate, tuple(blocks)) for (kind, parameter, gate), blocks in kinds.items())


def zero_target_text(target: ZeroTarget) -> str:
    """One line, in the reader's language, of what ``zero_init_residual`` zeroes in ``target``'s blocks and why
    (markdown: the parameter names as code)."""
    first, last = (f"`{target.blocks[i]}.{target.parameter}`" for i in (0, -1))
    names = first if len(target.blocks) == 1 else _("{first} … {last}").format(first=first, last=last)
    if target.is_gamma:
        why = _("γ of the branch's last BatchNorm, which then outputs β = 0")
        if target.gate:
            why += _("; it comes before the {gate} gate, so the gate multiplies zeros").format(gate=target.gate)
    else:
        why = _("the weight of the branch's last conv: a pre-activation block ends in a conv, with no BatchNorm after it")
        if target.gate:
            why += _(", so the {gate} gate after it multiplies zeros").format(gate=target.gate)
    return _("{names} ({count} × `{kind}`): {why}").format(names=names, count=len(target.blocks),
                                                          kind=target.block_kind, why=why)


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
    """One table row per block: is it exactly the identity at step 0 with the flag on and off, is
    its output its shortcut's alone with the flag on (a projection block's too), and its
    branch-to-shortcut ratio both ways (labels in the reader's language)."""
    exactly, yes = _("✓ exactly"), _("yes")
    return [{
        _("block"): on.name, _("projection shortcut"): yes if on.projection else "",
        _("identity, flag on"): exactly if on.identity else "✗", _("identity, flag off"): exactly if off.identity else "✗",
        _("shortcut alone, flag on"): exactly if on.shortcut_only else "✗",
        _("‖F‖/‖x‖ flag on"): round(on.branch_ratio, 4), _("‖F‖/‖x‖ flag off"): round(off.branch_ratio, 4),
    } for on, off in zip(study.on, study.off)]


def silenced_gradients_text(spec: ResNetSpec, study: TwinInit, batch_size: int) -> str:
    """What the gradient chart shows at step 0 with the flag on, in the reader's language: how many
    layers get exactly no gradient, and why, for the kind of block ``spec`` has."""
    zeros = sum(g.norm == 0 for g in study.gradients_on)
    if spec.preact:
        why = _("a branch whose last conv is zero does not yet depend on the layers before that conv; the zeroed "
                "conv itself does get a gradient (it is drawn), and the first step wakes the branch up.")
    else:
        why = _("a branch whose last γ is 0 does not yet depend on its convs (nor on a gate after them); the "
                "zeroed γ does get a gradient, and the first step wakes the branch up.")
    return _("One batch of {batch} pictures. With the flag on, {zeros} of {layers} layers get exactly zero gradient "
             "at step 0 (not drawn on the log axis): {why}").format(
        batch=batch_size, zeros=zeros, layers=len(study.gradients_on), why=why)
