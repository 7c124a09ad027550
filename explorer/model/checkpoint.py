"""The upload boundary for checkpoints: bytes in, a `Checkpoint` or a `CheckpointError` out.

torch.save files are read with ``torch.load(..., weights_only=True)`` only: a pickle that
tries to run code is refused. ``.safetensors`` files are read with the safetensors library
(no pickle at all). The format is judged by content, and the sizes a file declares are capped
before loading (`explorer.model.checkpoint_formats`). Whatever goes wrong becomes a sentence
for the user; what is changed on the way (dtypes, missing BatchNorm counters) is said in notes.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from explorer.data.images import picture_format
from explorer.model.checkpoint_formats import (Container, FormatError, check_declared_sizes, container_of,
                                               read_safetensors)
from explorer.model.timm_names import from_timm_resnetv2, is_timm_resnetv2
from explorer.runtime.i18n import _

CHECKPOINT_KEYS = ("model_state_dict", "state_dict", "model")
CLASS_NAME_KEYS = ("classes", "class_names", "categories")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class Checkpoint:
    """A state dict read safely from an uploaded or local checkpoint."""

    state_dict: Mapping[str, torch.Tensor]
    num_classes: int | None  # rows of fc.weight
    class_names: tuple[str, ...] | None
    digest: str  # sha256 of the file's bytes
    # What reading changed or the user should know (dtype conversions, filled BatchNorm
    # counters), as sentences in the reader's language: the weights picker shows them, the CLI prints them.
    notes: tuple[str, ...] = ()


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
                                "uploader; here, a .pth/.pt file written by torch.save, or a .safetensors "
                                "file.").format(format=picture))
    try:
        container = container_of(data)
        check_declared_sizes(data, container)
        if container is Container.SAFETENSORS:
            loaded = read_safetensors(data)
        else:
            loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except FormatError as error:
        raise CheckpointError(str(error)) from None
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
            reason=brief(error))) from None
    try:
        return _checkpoint(loaded, hashlib.sha256(data).hexdigest())
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(_("This file does not hold a model's state dict ({reason}).").format(
            reason=brief(error))) from None


def brief(error: BaseException) -> str:
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
    notes = []
    if is_timm_resnetv2(tensors):
        tensors = from_timm_resnetv2(tensors)
        notes.append(_("The checkpoint uses timm's ResNetV2 names (stages.N.blocks.M, norm, head.fc); they were "
                       "read as the explorer's (layerN+1.M, final_bn, fc)."))
    complex_key = next((k for k, v in tensors.items() if v.is_complex()), None)
    if complex_key is not None:
        raise CheckpointError(_("The tensor {key!r} holds complex numbers: a ResNet's weights are real.").format(
            key=complex_key))
    bad = next((k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad is not None:
        raise CheckpointError(_("The tensor {key!r} holds NaN or infinite values: the model would answer NaN "
                                "everywhere. The training that saved it diverged; use an earlier checkpoint.").format(
            key=bad))
    notes += _dtype_notes(tensors)
    tensors, filled = _with_batch_counters(tensors)
    if filled:
        notes.append(_("The checkpoint has no num_batches_tracked counters in its {count} BatchNorm layers (they only "
                       "count training steps); they were set to 0.").format(count=filled))
    names = next((loaded[k] for k in CLASS_NAME_KEYS if k in loaded), None)
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        names = None
    fc = tensors.get("fc.weight")
    return Checkpoint(
        state_dict=tensors,
        num_classes=int(fc.shape[0]) if fc is not None and fc.dim() == 2 else None,
        class_names=tuple(names) if names else None,
        digest=digest,
        notes=tuple(notes),
    )


# Integer tensors a state dict holds as integers (BatchNorm's step counter).
_INTEGER_BUFFERS = (".num_batches_tracked",)


def _dtype_notes(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Sentences on the tensors whose dtype the model's float32 will change, one per dtype."""
    by_dtype: dict[torch.dtype, int] = {}
    for key, tensor in tensors.items():
        if tensor.dtype is not torch.float32 and not key.endswith(_INTEGER_BUFFERS):
            by_dtype[tensor.dtype] = by_dtype.get(tensor.dtype, 0) + 1
    notes = []
    for dtype, count in by_dtype.items():
        name = str(dtype).removeprefix("torch.")
        if dtype.is_floating_point:
            notes.append(_("{count} tensor(s) are {dtype}: they were converted to float32, the model's precision, "
                           "when loaded.").format(count=count, dtype=name))
        else:
            notes.append(_("{count} tensor(s) hold {dtype} integers where a model has float32 weights: they are "
                           "converted number for number, without any quantization scale, so a quantized model's "
                           "answers will be wrong.").format(count=count, dtype=name))
    return notes


def _with_batch_counters(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
    """``tensors`` with a zero ``num_batches_tracked`` for each BatchNorm that lacks one, and how many were filled.

    Exported and timm-style state dicts drop these counters; torch's own strict load accepts
    their absence, and evaluation never reads them.
    """
    missing = [k[: -len("running_var")] + "num_batches_tracked" for k in tensors
               if k.endswith("running_var") and k[: -len("running_var")] + "num_batches_tracked" not in tensors]
    if not missing:
        return tensors, 0
    return {**tensors, **{key: torch.tensor(0, dtype=torch.long) for key in missing}}, len(missing)
