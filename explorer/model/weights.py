"""Where a model's weights come from: a seed, torchvision's ImageNet weights, or a checkpoint.

Pretrained weights go through torchvision's weights enums (the meta names the classes and
``transforms()`` is the preprocessing) and are cached where torchvision caches them
(``$TORCH_HOME/hub/checkpoints``). Checkpoints are read with
``torch.load(..., weights_only=True)`` only: a pickle that tries to run code is refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_model_weights

from explorer.model.build import build_model
from explorer.runtime.i18n import N_, _
from explorer.data.images import Preprocessing, picture_format
from explorer.model.presets import TORCHVISION_PRESETS
from explorer.model.kinds import Block, Shortcut, Stem
from explorer.model.spec import ResNetSpec

CHECKPOINT_KEYS = ("model_state_dict", "state_dict", "model")
CLASS_NAME_KEYS = ("classes", "class_names", "categories")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's convention: name-<sha256 prefix>.pth


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that cannot be had (offline, blocked); the message says what to do.

    A download fails in a worker thread that sessions share (`explorer.shared_results`), so
    the message is kept as its English text and values and said in the reader's language
    when read (``str(error)``).
    """

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values

    def __str__(self) -> str:
        return _(self.message).format(**self.values)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class ModelSource:
    """Which weights a model gets; part of every model cache key."""

    kind: str = "random"  # "random", "imagenet" or "checkpoint"
    seed: int = 0  # for "random"
    weights: str | None = None  # e.g. "IMAGENET1K_V2" for "imagenet"
    checkpoint_digest: str | None = None  # sha256 of the uploaded bytes for "checkpoint"

    @property
    def short_label(self) -> str:
        """Which weights, in a few words: "ImageNet weights IMAGENET1K_V2", "random weights (seed 0)"."""
        if self.kind == "imagenet":
            return _("ImageNet weights {weights}").format(weights=self.weights)
        if self.kind == "checkpoint":
            return _("uploaded checkpoint {digest}").format(digest=self.checkpoint_digest[:12] if self.checkpoint_digest else "")
        return _("random weights (seed {seed})").format(seed=self.seed)

    @property
    def label(self) -> str:
        """`short_label` with what a reader must know about it."""
        if self.kind == "imagenet":
            return _("{weights} (torchvision)").format(weights=self.short_label)
        if self.kind == "checkpoint":
            return self.short_label
        return _("{weights} — untrained, so its outputs mean nothing yet").format(weights=self.short_label)


# ---- pretrained ImageNet weights -----------------------------------------------------


def torchvision_name(spec: ResNetSpec) -> str | None:
    """The torchvision model whose ImageNet weights fit ``spec`` (zero_init is irrelevant there)."""
    name = spec.with_changes(zero_init_residual=False).preset
    return name if name in TORCHVISION_PRESETS else None


def available_weights(spec: ResNetSpec) -> dict[str, object]:
    """Weights enum members for ``spec`` by name ({} for specs torchvision has no weights for)."""
    name = torchvision_name(spec)
    if name is None:
        return {}
    return {w.name: w for w in get_model_weights(name)}


def default_weights(spec: ResNetSpec) -> str | None:
    """The name of torchvision's ``DEFAULT`` weights for ``spec`` (None where torchvision has none)."""
    return next((name for name, w in available_weights(spec).items() if w is w.__class__.DEFAULT), None)


def weights_file(weights) -> Path:
    """Where torchvision keeps (or expects) this weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def download_weights(weights, progress: Callable[[int, int | None], None] | None = None, timeout: float = 30.0) -> Path:
    """Make sure the weights file is in torchvision's cache, reporting (bytes done, total).

    Raises `WeightsUnavailable` naming the file and the folder to put it in when offline.
    """
    target = weights_file(weights)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(target.name)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(weights.url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length", 0)) or None
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
                done = 0
                while chunk := response.read(1 << 20):
                    partial.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            os.unlink(partial.name)
            raise WeightsUnavailable(N_("The download of {file} was corrupted (hash mismatch); try again."),
                                     file=target.name)
        os.replace(partial.name, target)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise WeightsUnavailable(N_(
            "Could not download the pretrained weights ({reason}). Without internet, download "
            "{url} on another machine and place it as {file} in {folder}/ "
            "(torchvision's cache, set by TORCH_HOME); the app finds it there."
        ), reason=reason, url=weights.url, file=target.name, folder=target.parent) from None
    return target


def load_pretrained(spec: ResNetSpec, weights_name: str, device: str = "cpu",
                    progress: Callable[[int, int | None], None] | None = None) -> nn.Module:
    """``spec`` with torchvision's ImageNet weights, in eval mode on ``device``."""
    options = available_weights(spec)
    if weights_name not in options:
        if options:
            raise WeightsUnavailable(N_("{model} has no torchvision ImageNet weights named {weights!r}; available: "
                                        "{available}."), model=spec.name, weights=weights_name,
                                     available=", ".join(options))
        raise WeightsUnavailable(N_("{model} has no torchvision ImageNet weights named {weights!r} (only the ten "
                                    "torchvision ResNets do)."), model=spec.name, weights=weights_name)
    path = download_weights(options[weights_name], progress)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(spec, "cpu", seed=0)
    model.load_state_dict(state)
    return model.to(device).eval()


# ---- user checkpoints ---------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A state dict read safely from an uploaded or local checkpoint."""

    state_dict: Mapping[str, torch.Tensor]
    num_classes: int | None  # rows of fc.weight
    class_names: tuple[str, ...] | None
    digest: str  # sha256 of the file's bytes


def read_checkpoint(data: bytes) -> Checkpoint:
    """Read checkpoint bytes with ``weights_only=True``; never falls back to full unpickling.

    Accepts a bare state dict or a dict holding one under ``model_state_dict`` /
    ``state_dict`` / ``model`` (DataParallel's ``module.`` prefix removed), with optional
    class names under ``classes`` / ``class_names`` / ``categories``. This is the boundary
    for uploaded bytes: whatever goes wrong in here ends as a `CheckpointError` with a
    sentence for the user.
    """
    if not data:
        raise CheckpointError(_("The checkpoint file is empty."))
    picture = picture_format(data)
    if picture is not None:
        raise CheckpointError(_("This file is a {format} picture, not a checkpoint. Give pictures to the image "
                                "uploader; here, a .pth/.pt file written by torch.save.").format(format=picture))
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        unsupported = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
        if unsupported:
            raise CheckpointError(_(
                "This checkpoint contains a Python object ({name}) that could run code when "
                "loaded, so it was refused. Save only tensors and plain data: {example}."
            ).format(name=unsupported.group(1),
                     example="torch.save({'model_state_dict': model.state_dict(), 'classes': [...]}, path)")) from None
        raise CheckpointError(_("This is not a PyTorch checkpoint that can be read (its contents are not a "
                                "valid torch.save file).")) from None
    except Exception as error:  # any other failure on untrusted bytes: zip, storage, struct, ...
        raise CheckpointError(_("This is not a PyTorch checkpoint that can be read ({reason}).").format(
            reason=_brief(error))) from None
    try:
        return _checkpoint(loaded, hashlib.sha256(data).hexdigest())
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(_("This file does not hold a model's state dict ({reason}).").format(
            reason=_brief(error))) from None


def _brief(error: BaseException) -> str:
    """An exception in a few words, for a message: its text cut short, or its type."""
    text = " ".join(str(error).split())
    return (text[:200] + "…" if len(text) > 200 else text) or type(error).__name__


def _checkpoint(loaded: object, digest: str) -> Checkpoint:
    """The `Checkpoint` inside what ``torch.load`` returned; `CheckpointError` saying what is off."""
    if not isinstance(loaded, Mapping):
        raise CheckpointError(_("The checkpoint holds a {type}, not a state dict.").format(type=type(loaded).__name__))
    state = next((loaded[k] for k in CHECKPOINT_KEYS if isinstance(loaded.get(k), Mapping)), loaded)
    odd_key = next((k for k in state if not isinstance(k, str)), None)
    if odd_key is not None:
        raise CheckpointError(_("The state dict has keys that are not layer names (for example {key!r}): "
                                "it is not a model's state dict.").format(key=odd_key))
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(_("The checkpoint contains no tensors: it is not a model's state dict."))
    complex_key = next((k for k, v in tensors.items() if v.is_complex()), None)
    if complex_key is not None:
        raise CheckpointError(_("The tensor {key!r} holds complex numbers: a ResNet's weights are real.").format(
            key=complex_key))
    names = next((loaded[k] for k in CLASS_NAME_KEYS if k in loaded), None)
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        names = None
    fc = tensors.get("fc.weight")
    return Checkpoint(
        state_dict=tensors,
        num_classes=int(fc.shape[0]) if fc is not None and fc.dim() == 2 else None,
        class_names=tuple(names) if names else None,
        digest=digest,
    )


def guess_spec(state: Mapping[str, torch.Tensor]) -> ResNetSpec | None:
    """The ResNet a state dict looks like, or None.

    It sets only the fields the tensors show; the others (where the stride sits, dilation,
    zero-init: the same tensors either way) keep `ResNetSpec`'s defaults.
    """
    try:
        stages = []
        while any(k.startswith(f"layer{len(stages) + 1}.") for k in state):
            prefix = f"layer{len(stages) + 1}."
            stages.append(1 + max(int(k[len(prefix):].split(".")[0]) for k in state if k.startswith(prefix)))
        if not stages:
            return None
        block = Block.BOTTLENECK if "layer1.0.conv3.weight" in state else Block.BASIC
        expansion = block.expansion
        stage_out = [state[f"layer{i + 1}.0.bn{3 if block is Block.BOTTLENECK else 2}.weight"].shape[0] for i in range(len(stages))]
        planes = tuple(c // expansion for c in stage_out)
        grouping = {}  # basic blocks have no grouped or widened conv to see
        if block is Block.BOTTLENECK:
            width, per_group = state["layer1.0.conv2.weight"].shape[:2]  # (width, width/groups, 3, 3)
            groups = width // per_group
            grouping = {"groups": groups, "width_per_group": width // groups * 64 // planes[0]}
        if "conv1.0.weight" in state:
            stem, stem_width = Stem.DEEP, state["conv1.6.weight"].shape[0]
        elif state["conv1.weight"].shape[-1] == 3:
            stem, stem_width = Stem.CIFAR, state["conv1.weight"].shape[0]
        else:
            stem, stem_width = Stem.IMAGENET, state["conv1.weight"].shape[0]
        in_channels = state["conv1.0.weight" if stem is Stem.DEEP else "conv1.weight"].shape[1]
        projected = [f"layer{i + 1}.{b}" for i, n in enumerate(stages) for b in range(n)
                     if any(k.startswith(f"layer{i + 1}.{b}.downsample.") for k in state)]
        avg_down = any(f"{p}.downsample.1.weight" in state and state[f"{p}.downsample.1.weight"].dim() == 4 for p in projected)
        shortcut = Shortcut.C if len(projected) == sum(stages) else Shortcut.B if projected else Shortcut.A
        spec = ResNetSpec(
            stages=tuple(stages), block=block, stage_planes=planes, **grouping,
            stem=stem, stem_width=stem_width, avg_down=avg_down, shortcut=shortcut,
            num_classes=state["fc.weight"].shape[0], in_channels=in_channels,
        )
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError, ZeroDivisionError):
        return None
    return spec


def describe_spec(spec: ResNetSpec) -> str:
    """Words for a guessed spec, in the current language: "a resnet50 with 2 classes"."""
    base = spec.with_changes(num_classes=10 if spec.is_cifar else 1000)
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
    resized = spec.with_changes(num_classes=classes)
    if not fits(resized, checkpoint.state_dict):
        return spec, None
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
            model=spec.name, reason=_brief(error))) from None
    return model.to(device).eval()


def preprocessing_for(spec: ResNetSpec, source: ModelSource, input_size: int) -> Preprocessing:
    """ImageNet weights' own ``transforms()``; otherwise ``input_size`` with ImageNet's margin."""
    if source.kind == "imagenet":
        return Preprocessing.from_weights(available_weights(spec)[source.weights])
    return Preprocessing.for_size(input_size)


def weights_source(spec: ResNetSpec, weights: str | None = None, checkpoint: Checkpoint | None = None,
                   seed: int = 0) -> ModelSource:
    """Which weights a model gets, by the rules the Predict page and ``predict`` share.

    A checkpoint, if given, is used (``weights`` must then be None or "random");
    ``weights="random"`` is a seeded initialisation; another name picks torchvision's
    ImageNet weights of that name, and None its ``DEFAULT``. Raises ValueError saying what
    to give instead.
    """
    if checkpoint is not None:
        if weights not in (None, "random"):
            raise ValueError(_("Give either ImageNet weights or a checkpoint, not both."))
        return ModelSource("checkpoint", checkpoint_digest=checkpoint.digest)
    if weights == "random":
        return ModelSource("random", seed=seed)
    options = available_weights(spec)
    if not options:
        raise ValueError(_("{model} has no torchvision ImageNet weights: give a checkpoint or random weights.").format(
            model=spec.name))
    name = weights or default_weights(spec)
    if name not in options:
        raise ValueError(_("Unknown weights {weights!r} for {model}; available: {available}.").format(
            weights=name, model=spec.name, available=", ".join(options)))
    return ModelSource("imagenet", weights=name)


def class_names_from_file(data: bytes) -> tuple[str, ...]:
    """Class names from a text file's bytes: UTF-8 (a BOM is dropped), one per line, blank lines ignored."""
    text = data.decode("utf-8-sig", "replace")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class ClassNames:
    """The names of a model's outputs, where they came from, and the lists passed over."""

    names: tuple[str, ...]
    # "the names file", "the checkpoint's class names", "ImageNet's categories" or "numbered names",
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
    3. torchvision's ImageNet categories, for ImageNet weights;
    4. "class 0" ... "class N-1".

    A list must have exactly one name per class; one that does not is passed over, and
    `ClassNames.skipped` says why (the page shows it, the CLI refuses).
    """
    candidates: list[tuple[str, tuple[str, ...]]] = []
    if names_file is not None:
        candidates.append((_("the names file"), class_names_from_file(names_file)))
    if source.kind == "checkpoint" and checkpoint is not None and checkpoint.class_names:
        candidates.append((_("the checkpoint's class names"), checkpoint.class_names))
    if source.kind == "imagenet":
        candidates.append((_("ImageNet's categories"), tuple(available_weights(spec)[source.weights].meta["categories"])))
    skipped = []
    for origin, names in candidates:
        if len(names) == spec.num_classes:
            return ClassNames(names, origin, tuple(skipped))
        skipped.append(_("{count} names in {origin} for the model's {classes} classes: one name per class is "
                         "needed.").format(count=len(names), origin=origin, classes=spec.num_classes))
    numbered = tuple(_("class {index}").format(index=i) for i in range(spec.num_classes))
    return ClassNames(numbered, _("numbered names"), tuple(skipped))


def load_model(spec: ResNetSpec, source: ModelSource, device: str = "cpu", checkpoint: Checkpoint | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> nn.Module:
    """The model ``source`` describes, in eval mode on ``device``."""
    if source.kind == "imagenet":
        return load_pretrained(spec, source.weights or "", device, progress)
    if source.kind == "checkpoint":
        if checkpoint is None:
            raise CheckpointError(_("No checkpoint was given."))
        return load_checkpoint_model(spec, checkpoint, device)
    return build_model(spec, device, seed=source.seed)

