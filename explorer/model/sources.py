"""Where a model's weights come from (a seed, torchvision's ImageNet weights or a checkpoint), and its class names.

`ModelSource` is part of every model cache key; `weights_source` makes one by the rules the
Predict page and the CLI share, `load_model` builds what it describes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from torch import nn

from explorer.data.images import Preprocessing
from explorer.model.build import build_model
from explorer.model.checkpoint import Checkpoint, CheckpointError
from explorer.model.fitting import load_checkpoint_model
from explorer.model.pretrained import available_weights, default_weights, imagenet_categories, load_pretrained
from explorer.model.spec import ResNetSpec
from explorer.runtime.progress import Progress, no_progress
from explorer.runtime.i18n import N_, _

# What every chart and listing of an untrained network's outputs says (the CLI, the top-5 charts).
UNTRAINED_NOTE = N_("random weights, not trained: these classes mean nothing")
IMAGENET_CLASSES = 1000  # outputs of a classifier trained on ImageNet-1K


class SourceKind(str, enum.Enum):
    """Where a model's weights come from."""

    RANDOM = "random"  # a seeded initialisation
    IMAGENET = "imagenet"  # torchvision's pretrained ImageNet weights
    CHECKPOINT = "checkpoint"  # an uploaded or local checkpoint


@dataclass(frozen=True)
class ModelSource:
    """Which weights a model gets; part of every model cache key."""

    kind: SourceKind = SourceKind.RANDOM
    seed: int = 0  # for RANDOM
    weights: str | None = None  # e.g. "IMAGENET1K_V2" for IMAGENET
    checkpoint_digest: str | None = None  # sha256 of the checkpoint's bytes for CHECKPOINT
    # The file a CHECKPOINT was read from, as the user named it (the CLI's --checkpoint path);
    # None for an upload. Not part of the key: the same bytes are the same weights.
    checkpoint_file: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SourceKind(self.kind))  # frozen: text from a caller becomes the enum once

    @property
    def untrained(self) -> bool:
        """Random weights: the network has learnt nothing, so its classes and Grad-CAMs mean nothing.

        A checkpoint is taken as trained: what it learnt is its author's business."""
        return self.kind is SourceKind.RANDOM

    @property
    def short_label(self) -> str:
        """Which weights, in a few words: "ImageNet weights IMAGENET1K_V2", "random weights, seed 0",
        "checkpoint file mine.pth" (a file named on the command line), "uploaded checkpoint 3f2a…".

        No brackets of its own: titles put it in brackets, and brackets in brackets read badly."""
        if self.kind is SourceKind.IMAGENET:
            return _("ImageNet weights {weights}").format(weights=self.weights)
        if self.kind is SourceKind.CHECKPOINT and self.checkpoint_file is not None:
            return _("checkpoint file {file}").format(file=self.checkpoint_file)
        if self.kind is SourceKind.CHECKPOINT:
            return _("uploaded checkpoint {digest}").format(digest=self.checkpoint_digest[:12] if self.checkpoint_digest else "")
        return _("random weights, seed {seed}").format(seed=self.seed)

    @property
    def label(self) -> str:
        """`short_label` with what a reader must know about it."""
        if self.kind is SourceKind.IMAGENET:
            return _("{weights} (torchvision)").format(weights=self.short_label)
        if self.kind is SourceKind.CHECKPOINT:
            return self.short_label
        return _("{weights} — untrained, so its outputs mean nothing yet").format(weights=self.short_label)


def preprocessing_for(spec: ResNetSpec, source: ModelSource, input_size: int) -> Preprocessing:
    """ImageNet weights' own ``transforms()``; otherwise ``input_size`` with ImageNet's margin."""
    if source.kind is SourceKind.IMAGENET:
        return Preprocessing.from_weights(available_weights(spec)[source.weights])
    return Preprocessing.for_size(input_size)


def weights_source(spec: ResNetSpec, weights: str | None = None, checkpoint: Checkpoint | None = None,
                   seed: int = 0, checkpoint_file: str | None = None) -> ModelSource:
    """Which weights a model gets, by the rules the Predict page and ``predict`` share.

    A checkpoint, if given, is used (``weights`` must then be None or "random"); its
    ``checkpoint_file``, where it was read from a named file, names it in the labels;
    ``weights="random"`` is a seeded initialisation; another name picks torchvision's
    ImageNet weights of that name, and None its ``DEFAULT``. Raises ValueError saying what
    to give instead.
    """
    if checkpoint is not None:
        if weights not in (None, "random"):
            raise ValueError(_("Give either ImageNet weights or a checkpoint, not both."))
        return ModelSource(SourceKind.CHECKPOINT, checkpoint_digest=checkpoint.digest, checkpoint_file=checkpoint_file)
    if weights == "random":
        return ModelSource(SourceKind.RANDOM, seed=seed)
    options = available_weights(spec)
    if not options:
        raise ValueError(_("{model} has no torchvision ImageNet weights: give a checkpoint or random weights.").format(
            model=spec.name))
    name = weights or default_weights(spec)
    if name not in options:
        raise ValueError(_("Unknown weights {weights!r} for {model}; available: {available}.").format(
            weights=name, model=spec.name, available=", ".join(options)))
    return ModelSource(SourceKind.IMAGENET, weights=name)


def class_names_from_file(data: bytes) -> tuple[str, ...]:
    """Class names from a text file's bytes: UTF-8 (a BOM is dropped), one per line, blank lines ignored."""
    text = data.decode("utf-8-sig", "replace")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class ClassNames:
    """The names of a model's outputs, where they came from, and the lists passed over."""

    names: tuple[str, ...]
    # "the names file", "the checkpoint's class names", "ImageNet's categories" (also taken for a
    # checkpoint with ImageNet's 1,000 outputs and no names of its own) or "numbered names",
    # in the language of the call (as are the numbered names, "class 0", and the sentences)
    origin: str
    skipped: tuple[str, ...]  # a sentence for each list passed over for having the wrong length


def class_names_for(spec: ResNetSpec, source: ModelSource, checkpoint: Checkpoint | None = None,
                    names_file: bytes | None = None) -> ClassNames:
    """Names for the model's ``num_classes`` outputs, by one precedence for the page and the CLI.

    1. a names file (one name per line; the page's upload, the CLI's ``--classes``): the
       user's explicit choice for this run, so it wins, also over ImageNet's categories
       (e.g. translated names);
    2. the names saved in the checkpoint (``classes`` / ``class_names`` / ``categories``);
    3. torchvision's ImageNet categories, for ImageNet weights, and for a checkpoint whose fc
       has ImageNet's 1,000 outputs (a torchvision ``model.state_dict()`` saved as it is: 1,000
       classes are ImageNet-1K's in practice, and torchvision's files carry no names);
    4. "class 0" ... "class N-1".

    A list must have exactly one name per class; one that does not is passed over, and
    `ClassNames.skipped` says why (the page shows it, the CLI refuses).
    """
    candidates: list[tuple[str, tuple[str, ...]]] = []
    if names_file is not None:
        candidates.append((_("the names file"), class_names_from_file(names_file)))
    if source.kind is SourceKind.CHECKPOINT and checkpoint is not None and checkpoint.class_names:
        candidates.append((_("the checkpoint's class names"), checkpoint.class_names))
    if source.kind is SourceKind.IMAGENET:
        candidates.append((_("ImageNet's categories"), tuple(available_weights(spec)[source.weights].meta["categories"])))
    elif source.kind is SourceKind.CHECKPOINT and spec.num_classes == IMAGENET_CLASSES:
        candidates.append((_("ImageNet's categories, as the checkpoint has ImageNet's 1,000 outputs"),
                           imagenet_categories()))
    skipped = []
    for origin, names in candidates:
        if len(names) == spec.num_classes:
            return ClassNames(names, origin, tuple(skipped))
        skipped.append(_("{count} names in {origin} for the model's {classes} classes: one name per class is "
                         "needed.").format(count=len(names), origin=origin, classes=spec.num_classes))
    numbered = tuple(_("class {index}").format(index=i) for i in range(spec.num_classes))
    return ClassNames(numbered, _("numbered names"), tuple(skipped))


def load_model(spec: ResNetSpec, source: ModelSource, device: str = "cpu", checkpoint: Checkpoint | None = None,
               progress: Progress = no_progress) -> nn.Module:
    """The model ``source`` describes, in eval mode on ``device``."""
    if source.kind is SourceKind.IMAGENET:
        return load_pretrained(spec, source.weights or "", device, progress)
    if source.kind is SourceKind.CHECKPOINT:
        if checkpoint is None:
            raise CheckpointError(_("No checkpoint was given."))
        return load_checkpoint_model(spec, checkpoint, device)
    return build_model(spec, device, seed=source.seed)

