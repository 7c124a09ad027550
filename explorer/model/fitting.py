"""Which ResNet a state dict is: guessing a spec from tensor names and shapes, and checking a fit.

A checkpoint is keyed by the build's module names (``layer2.0.conv1.weight``), so the guess
reads those names back and `fits` compares against a model built on the meta device.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from explorer.model.depth import make_divisible
from explorer.model.build import build_model
from explorer.model.checkpoint import Checkpoint, CheckpointError, brief
from explorer.model.kinds import Attention, Block, MiddleConv, Shortcut, Stem
from explorer.model.spec import ResNetSpec, stage_name
from explorer.runtime.i18n import _


def guess_spec(state: Mapping[str, torch.Tensor]) -> ResNetSpec | None:
    """The ResNet a state dict looks like, or None.

    It sets only the fields the tensors show; the others (where the stride sits, dilation,
    zero-init: the same tensors either way) keep `ResNetSpec`'s defaults, or a published net's.
    """
    try:
        stages: list[int] = []  # blocks per stage: one more than the highest block index under each "layerN."
        while any(k.startswith(f"{stage_name(len(stages))}.") for k in state):
            prefix = f"{stage_name(len(stages))}."
            stages.append(1 + max(int(k[len(prefix):].split(".")[0]) for k in state if k.startswith(prefix)))
        if not stages:
            return None
        names = [stage_name(stage) for stage in range(len(stages))]
        first = f"{names[0]}.0"  # the first block
        block = Block.BOTTLENECK if f"{first}.conv3.weight" in state else Block.BASIC
        preact = "final_bn.weight" in state
        # The tensor whose rows are a block's output channels: the last BN, or the last conv before a pre-activation add.
        last = ("conv2" if block is Block.BASIC else "conv3") if preact else ("bn2" if block is Block.BASIC else "bn3")
        stage_out = [state[f"{name}.0.{last}.weight"].shape[0] for name in names]
        planes = tuple(c // block.expansion for c in stage_out)
        variant = _variant(state, first)
        grouping = {}  # basic blocks have no grouped or widened conv to see
        if block is Block.BOTTLENECK:
            grouping = _grouping(state, first, planes[0], variant.get("middle_conv"))
        if "conv1.0.weight" in state:  # tiered: the first conv narrower than the second
            narrower = state["conv1.0.weight"].shape[0] < state["conv1.3.weight"].shape[0]
            stem, stem_width = Stem.TIERED if narrower else Stem.DEEP, state["conv1.6.weight"].shape[0]
        elif state["conv1.weight"].shape[-1] == 3:
            stem, stem_width = Stem.CIFAR, state["conv1.weight"].shape[0]
        else:
            stem, stem_width = Stem.IMAGENET, state["conv1.weight"].shape[0]
        in_channels = state["conv1.0.weight" if "conv1.0.weight" in state else "conv1.weight"].shape[1]
        projected = [f"{name}.{b}" for name, n in zip(names, stages) for b in range(n)
                     if any(k.startswith(f"{name}.{b}.downsample.") for k in state)]
        avg_down = any(f"{p}.downsample.1.weight" in state and state[f"{p}.downsample.1.weight"].dim() == 4 for p in projected)
        # A pre-activation shortcut is one conv either way (only its stride differs, which a state dict does not
        # hold): timm pairs the deep stem with avg-down there (resnetv2_50d), so that is the guess.
        avg_down = avg_down or (preact and stem is Stem.DEEP)
        # Option C projects a block that keeps its shape too: one that is not the first of its stage. With one
        # block a stage, B and C hold the same tensors, and B (the published nets') is the guess.
        keeps_shape = any(not p.endswith(".0") for p in projected) or (first in projected
                                                                        and stem_width == stage_out[0])
        shortcut = Shortcut.C if keeps_shape else Shortcut.B if projected else Shortcut.A
        spec = ResNetSpec(
            stages=tuple(stages), block=block, stage_planes=planes, **grouping, **variant,
            stem=stem, stem_width=stem_width, avg_down=avg_down, shortcut=shortcut, preact=preact,
            num_classes=state["fc.weight"].shape[0], in_channels=in_channels,
        )
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError, ZeroDivisionError):
        return None
    return _published_pooling(spec)


def _published_pooling(spec: ResNetSpec) -> ResNetSpec:
    """Where a striding split-attention block pools (before or after its 3x3) no tensor shows: where
    ResNeSt's published net of these widths pools first (resnest50d_4s2x40d), that is the guess."""
    if spec.middle_conv is not MiddleConv.SPLIT:
        return spec
    first = spec.with_changes(avd_first=True)
    published = first.with_changes(num_classes=first.family.num_classes).preset is not None
    return first if published else spec


def _variant(state: Mapping[str, torch.Tensor], first: str) -> dict[str, object]:
    """The beyond-v1 fields the first block's tensors show: its 3x3 kind and its channel gate."""
    variant: dict[str, object] = {}
    if f"{first}.conv2.fc1.weight" in state:  # ResNeSt: radix = the 3x3's outputs / the gate's input
        variant.update(middle_conv=MiddleConv.SPLIT,
                       radix=state[f"{first}.conv2.conv.weight"].shape[0] // state[f"{first}.conv2.fc1.weight"].shape[1]
                       // _groups(state[f"{first}.conv2.fc1.weight"], state[f"{first}.conv1.weight"].shape[0]))
    elif f"{first}.convs.0.weight" in state:  # Res2Net: scales = conv1's outputs / one scale's width
        variant.update(middle_conv=MiddleConv.RES2,
                       scales=state[f"{first}.conv1.weight"].shape[0] // state[f"{first}.convs.0.weight"].shape[0])
    if f"{first}.se.fc1.weight" in state:
        variant.update(attention=Attention.SE, attention_reduction=_se_reduction(state))
    elif f"{first}.se.conv.weight" in state:
        variant.update(attention=Attention.ECA)
    return variant


def _se_reduction(state: Mapping[str, torch.Tensor]) -> int:
    """The SE reduction that squeezes every gate of ``state`` to its size, as timm rounds (to 8 channels).

    In a narrow block several reductions round alike (64 channels: 8, 16 and 32 all give 8), so
    every gate is checked: SENet's 16 first, then the ratios of the widest gates.
    """
    gates = sorted((tuple(state[k].shape[:2]) for k in state if k.endswith(".se.fc1.weight")), key=lambda g: -g[1])
    ratios = [16, *(max(1, round(channels / squeezed)) for squeezed, channels in gates)]
    return next((r for r in ratios if all(make_divisible(c / r, 8, round_limit=0.0) == s for s, c in gates)),
                ratios[1])


def _groups(weight: torch.Tensor, in_channels: int) -> int:
    """The groups of a conv, from its weight (out, in/groups, k, k) and its input channels."""
    return max(1, in_channels // weight.shape[1])


def _grouping(state: Mapping[str, torch.Tensor], first: str, planes: int, middle: object) -> dict[str, int]:
    """``groups`` and ``width_per_group`` of a bottleneck, read from its 3x3 conv(s)."""
    if middle is MiddleConv.SPLIT:
        weight = state[f"{first}.conv2.conv.weight"]
        width = state[f"{first}.conv1.weight"].shape[0]
        groups = _groups(weight, width) // (weight.shape[0] // width)
    elif middle is MiddleConv.RES2:
        weight = state[f"{first}.convs.0.weight"]
        width, groups = weight.shape[0], weight.shape[0] // weight.shape[1]
    else:
        width, per_group = state[f"{first}.conv2.weight"].shape[:2]  # (width, width/groups, 3, 3)
        groups = width // per_group
    return {"groups": groups, "width_per_group": width // groups * 64 // planes}


def describe_spec(spec: ResNetSpec) -> str:
    """Words for a guessed spec, in the current language: "a resnet50 with 2 classes"."""
    base = spec.with_changes(num_classes=spec.family.num_classes)
    name = base.preset or base.name
    return _("a {model} with {count} classes").format(model=name, count=spec.num_classes)


def _differences(spec: ResNetSpec, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str], list[tuple]]:
    """Missing keys, unexpected keys and shape differences (key, checkpoint's, model's) of ``state`` against ``spec``."""
    expected = {k: tuple(v.shape) for k, v in build_model(spec, "meta").state_dict().items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [(k, tuple(state[k].shape), expected[k]) for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    return missing, unexpected, shapes


def fits(spec: ResNetSpec, state: Mapping[str, torch.Tensor]) -> bool:
    """True when ``state`` loads into ``spec`` exactly."""
    return not any(_differences(spec, state))


def state_mismatch(spec: ResNetSpec, state: Mapping[str, torch.Tensor]) -> str | None:
    """Why ``state`` does not load into ``spec``, with the spec it looks like; None if it fits."""
    missing, unexpected, shapes = _differences(spec, state)
    if not (missing or unexpected or shapes):
        return None

    def listing(items: list[str]) -> str:
        shown = ", ".join(items[:5])
        return _("{items} and {count} more").format(items=shown, count=len(items) - 5) if len(items) > 5 else shown

    parts = []
    if missing:
        parts.append(_("{count} missing key(s): {keys}").format(count=len(missing), keys=listing(missing)))
    if unexpected:
        parts.append(_("{count} unexpected key(s): {keys}").format(count=len(unexpected), keys=listing(unexpected)))
    if shapes:
        differences = [_("{key}: checkpoint {checkpoint} vs model {model}").format(key=k, checkpoint=c, model=m)
                       for k, c, m in shapes]
        parts.append(_("{count} shape difference(s): {differences}").format(count=len(shapes),
                                                                             differences=listing(differences)))
    message = _("The checkpoint does not fit {model}: {problems}.").format(model=spec.name, problems=_("; ").join(parts))
    guess = guess_spec(state)
    if guess is not None and fits(guess, state):
        message = _("{problem} It looks like {guess}.").format(problem=message, guess=describe_spec(guess))
    return message


def fit_head(spec: ResNetSpec, checkpoint: Checkpoint) -> tuple[ResNetSpec, str | None]:
    """``spec`` with its fc resized to the checkpoint's classes, and a sentence saying so.

    Fine-tuning replaces the fc (``model.fc = nn.Linear(model.fc.in_features, 3)``) and
    saves the state dict, so "resnet18 with this checkpoint" means resnet18 with the
    checkpoint's fc. ``spec`` itself and None when the classes already agree or a new fc
    would not make the checkpoint fit (its misfit is then explained by `state_mismatch`).
    """
    classes = checkpoint.num_classes
    if classes is None or classes == spec.num_classes:
        return spec, None
    try:
        resized = spec.with_changes(num_classes=classes)
        if not fits(resized, checkpoint.state_dict):
            return spec, None
    except ValueError as error:  # e.g. more classes than a spec allows: the checkpoint is what is off
        raise CheckpointError(_("The checkpoint's fc has {classes:,} outputs, which {model} cannot take: "
                                "{reason}").format(classes=classes, model=spec.name, reason=error)) from None
    return resized, _("The checkpoint's fc has {classes} outputs, so the model's {before}-class fc was "
                      "replaced by a {classes}-class one before loading: the model's classes were taken from the "
                      "checkpoint.").format(classes=classes, before=spec.num_classes)


def load_checkpoint_model(spec: ResNetSpec, checkpoint: Checkpoint, device: str = "cpu") -> nn.Module:
    """``spec`` with the checkpoint's weights; raises `CheckpointError` saying what does not fit."""
    problem = state_mismatch(spec, checkpoint.state_dict)
    if problem:
        raise CheckpointError(problem)
    model = build_model(spec, "cpu", seed=0)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as error:  # right names and shapes, unusable values (e.g. a dtype that cannot cast)
        raise CheckpointError(_("The checkpoint's tensors cannot be loaded into {model} ({reason}).").format(
            model=spec.name, reason=brief(error))) from None
    return model.to(device).eval()

