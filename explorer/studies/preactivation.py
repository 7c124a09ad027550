"""Post- against pre-activation blocks at CIFAR depths (He et al. 2016b, "Identity Mappings in Deep
Residual Networks", https://arxiv.org/abs/1603.05027).

The 2015 block ends in a ReLU after the add: x_{l+1} = relu(x_l + F(x_l)). The pre-activation
block moves BN and ReLU before each conv and leaves the sum alone: x_{l+1} = x_l + F(x_l), so
within a stage x_L = x_l + Σ F_i, and the gradient reaching x_l holds ∂loss/∂x_L unchanged
(the paper's eq. 4 and 5). The study builds both versions of one CIFAR net from one seed
(they differ in nothing but ``preact``) and measures, at initialisation and on one batch, the
signal through depth (the mean square of each block's input, branch and output) and the
gradient through depth (`gradient_norms`); the class-shared training runs train them.

Every function builds its own models from (spec, seed): nothing here touches a shared model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from explorer.model.build import build_model
from explorer.model.kinds import Block, Shortcut
from explorer.model.presets import cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import N_, _
from explorer.studies.training import (
    LayerGradient, gradient_norms, training_memory, twins_batch, with_task_head,
)
from explorer.studies.zero_init import record_blocks, residual_blocks

# He et al. 2016b's CIFAR depths: basic blocks (6n + 2) for 20 to 110 (Table 2 and 3, after the 2015
# paper), bottlenecks (9n + 2) for 164 and 1001 (Table 3, Fig. 1 and 6).
PREACT_DEPTHS = (20, 56, 110, 164, 1001)
BOTTLENECK_DEPTHS = (164, 1001)
DEFAULT_PREACT_DEPTH = 110  # the paper's Table 1 depth; 164 and 1001 a choice away (their passes take longer)
# How the study labels the two versions of a depth. They key class-shared results, so they stay
# English; a page shows them through `_()`.
POST_LABEL, PRE_LABEL = N_("post-activation-{depth}"), N_("pre-activation-{depth}")


def preact_spec(depth: int, block: Block | None = None) -> ResNetSpec:
    """The CIFAR pre-activation ResNet of ``depth``, with projection shortcuts where the shape changes
    (the paper's ``cifar_preact_resnet164`` / ``1001``); bottlenecks at `BOTTLENECK_DEPTHS` unless told."""
    block = block if block is not None else (Block.BOTTLENECK if depth in BOTTLENECK_DEPTHS else Block.BASIC)
    return cifar_resnet(depth, block, shortcut=Shortcut.B, preact=True)


def activation_twins(spec: ResNetSpec) -> dict[str, ResNetSpec]:
    """The post- and pre-activation versions of ``spec``, labelled (English: `POST_LABEL`, `PRE_LABEL`)."""
    return {POST_LABEL.format(depth=spec.depth): spec.with_changes(preact=False),
            PRE_LABEL.format(depth=spec.depth): spec.with_changes(preact=True)}


@dataclass(frozen=True)
class BlockSignal:
    """The size of the signal in one block at initialisation: mean squares over the batch (every element)."""

    name: str  # "layer2.0"
    projection: bool  # the shortcut is a projection: the identity path does not pass through this block
    input_square: float  # of x, the block's input (the identity path)
    branch_square: float  # of F(x), the residual branch (the gate's output in a gated block)
    output_square: float  # of the block's output


def _mean_square(t: torch.Tensor) -> float:
    return float(t.double().pow(2).mean())


def signal_through_depth(spec: ResNetSpec, seed: int, inputs: torch.Tensor) -> tuple[BlockSignal, ...]:
    """Per block, the mean square of its input, branch and output, on ``inputs`` (BN on batch statistics)."""
    model = build_model(spec, seed=seed).train()
    seen = record_blocks(model, inputs)
    return tuple(BlockSignal(name, block.downsample is not None, _mean_square(seen[name]["x"]),
                             _mean_square(seen[name]["branch"]), _mean_square(seen[name]["out"]))
                 for name, block in residual_blocks(model))


@dataclass(frozen=True)
class ActivationStudy:
    """Both versions of one net at initialisation, by label (`activation_twins`)."""

    signals: dict[str, tuple[BlockSignal, ...]]
    gradients: dict[str, tuple[LayerGradient, ...]]


def activation_study(spec: ResNetSpec, seed: int, batch_size: int) -> ActivationStudy:
    """Signal and gradient through depth of the post- and pre-activation versions of ``spec``.

    One batch of the shapes task at the spec's own input size (32 px for a CIFAR net), the same
    for both, with the head the training runs give them (`with_task_head`). Raises `DoesNotFit`
    before anything is built when either would not fit (a training step's memory: the
    backward pass keeps every activation); each holds its memory while it runs, one at a time.
    """
    models = activation_twins(with_task_head(spec))
    inputs, labels, size = twins_batch(models, seed, batch_size)
    signals, gradients = {}, {}
    for label, model_spec in models.items():
        with training_memory(model_spec, size, batch_size):
            signals[label] = signal_through_depth(model_spec, seed, inputs)
            gradients[label] = gradient_norms(model_spec, seed, inputs, labels)
    return ActivationStudy(signals, gradients)


def signal_series(signals: dict[str, Sequence[BlockSignal]], shown: dict[str, str] | None = None) -> dict[str, list[float]]:
    """The signal chart's lines: each net's block outputs and branches (mean squares), named in the
    reader's language ("pre-activation-164: branch F(x)"; ``shown`` says a label in it)."""
    shown = shown or {}
    series = {}
    for label, blocks in signals.items():
        output, branch = _signal_names(shown.get(label, label))
        series[output] = [b.output_square for b in blocks]
        series[branch] = [b.branch_square for b in blocks]
    return series


def _signal_names(net: str) -> tuple[str, str]:
    return _("{net}: block output").format(net=net), _("{net}: branch F(x)").format(net=net)


def signal_styles(net_colours: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Colours and dashes of the signal chart's lines: each net in its colour from the page's other
    charts (``net_colours``, by its shown name), its branch dotted beside its solid block outputs."""
    colours, dashes = {}, {}
    for net, colour in net_colours.items():
        output, branch = _signal_names(net)
        colours |= {output: colour, branch: colour}
        dashes[branch] = "dot"
    return colours, dashes


def _number(value: float) -> str:
    return f"{value:.3g}"


def signal_text(signals: dict[str, Sequence[BlockSignal]], shown: dict[str, str] | None = None) -> str:
    """What the signal chart shows, in the reader's language, read off its numbers: for each net, the
    mean square of the block outputs at the first and last block and at its largest, and how much
    one stage's blocks without a projection multiply it from the stage's first block to its last."""
    shown = shown or {}
    parts = []
    for label, blocks in signals.items():
        outputs = [b.output_square for b in blocks]
        peak = max(range(len(blocks)), key=outputs.__getitem__)
        growth = _stage_growth(blocks)
        parts.append(_("{label}: {first} at {first_block}, {last} at {last_block}, largest {peak} at {peak_block}; "
                       "within a stage at most ×{growth} from its first block to its last").format(
            label=shown.get(label, label), first=_number(outputs[0]), first_block=blocks[0].name,
            last=_number(outputs[-1]), last_block=blocks[-1].name, peak=_number(outputs[peak]),
            peak_block=blocks[peak].name, growth=_number(growth)))
    return _("Mean square of the block outputs at initialisation — {nets}.").format(nets=_("; ").join(parts))


def _stage_growth(blocks: Sequence[BlockSignal]) -> float:
    """The largest ratio, over the stages, of the last block's output mean square to the first's."""
    stages: dict[str, list[float]] = {}
    for b in blocks:
        stages.setdefault(b.name.split(".")[0], []).append(b.output_square)
    ratios = [values[-1] / values[0] for values in stages.values() if values[0] > 0]
    return max(ratios) if ratios else math.nan


def gradient_text(gradients: dict[str, Sequence[LayerGradient]], shown: dict[str, str] | None = None) -> str:
    """What the gradient chart shows, in the reader's language, read off its numbers: for each net, the
    gradient norm of the first conv (the stem's) against the last conv's, and the ratio of the two."""
    shown = shown or {}
    parts, ratios = [], {}
    for label, layers in gradients.items():
        convs = [g for g in layers if g.name != "fc"]
        first, last = convs[0], convs[-1]
        ratios[label] = first.norm / last.norm if last.norm > 0 else math.inf
        parts.append(_("{label}: {first} at {first_layer}, {last} at {last_layer} (×{ratio})").format(
            label=shown.get(label, label), first=_number(first.norm), first_layer=first.name,
            last=_number(last.norm), last_layer=last.name, ratio=_number(ratios[label])))
    text = _("Gradient norm of the first conv against the last one at initialisation — {nets}.").format(
        nets=_("; ").join(parts))
    (post, post_ratio), (pre, pre_ratio) = ratios.items() if len(ratios) == 2 else ((None, 0), (None, 0))
    if post is not None and math.isfinite(post_ratio) and math.isfinite(pre_ratio) and post_ratio != pre_ratio:
        larger = post if post_ratio > pre_ratio else pre
        text += " " + _("Relative to its last layer, {label}'s first layer gets the larger gradient.").format(
            label=shown.get(larger, larger))
    return text


def aligned_gradients(gradients: dict[str, Sequence[LayerGradient]]) -> tuple[list[str], dict[str, list[float]]]:
    """The layers of both nets on one axis, and each net's gradient norms in that order.

    The two versions have the same convs in the same order; only a projection shortcut's conv is
    named apart (``downsample.0`` after torchvision, ``downsample.conv`` after timm's ResNetV2),
    so both are called ``downsample`` here.
    """
    def axis_name(name: str) -> str:
        return name.replace(".downsample.conv", ".downsample").replace(".downsample.0", ".downsample")

    by_name = {label: {axis_name(g.name): g.norm for g in layers} for label, layers in gradients.items()}
    names = list(next(iter(by_name.values())))
    if any(list(norms) != names for norms in by_name.values()):
        raise ValueError(_("The two networks do not have the same layers: {labels}.").format(labels=", ".join(by_name)))
    return names, {label: list(norms.values()) for label, norms in by_name.items()}
