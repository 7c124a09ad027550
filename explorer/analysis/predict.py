"""Top-k predictions and Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391).

Predictions run the shared model under ``torch.inference_mode()``. Grad-CAM needs hooks
and gradients, so it runs on a private view of the model (see `model_views.leased_view`):
the shared model is never hooked, and no parameter gradient is accumulated anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.analysis.memory_needs import LOWER_PICTURES, LOWER_SIZE, reserved, size_text
from explorer.runtime.devices import synchronize
from explorer.runtime.i18n import _
from explorer.data.images import Preprocessing
from explorer.model.views import leased_view
from explorer.model.spec import ResNetSpec
from explorer.model.sources import ModelSource


@dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image."""

    indices: tuple[int, ...]
    labels: tuple[str, ...]
    probabilities: tuple[float, ...]  # softmax, in [0, 1]
    milliseconds: float  # this image's share of the batch's forward pass
    device: str

    @property
    def top(self) -> str:
        return self.labels[0]


@dataclass(frozen=True)
class PredictionKey:
    """What one image's prediction depends on: equal keys give equal predictions, so a session reuses them."""

    spec: ResNetSpec
    source: ModelSource
    preprocessing: Preprocessing
    class_names: tuple[str, ...]
    image: str  # `images.image_digest` of the decoded picture


@dataclass(frozen=True)
class GradCamKey:
    """What one Grad-CAM depends on: the prediction's inputs, the class and the stage."""

    prediction: PredictionKey
    class_index: int
    stage: str | None  # None: the last stage




def predict(model: nn.Module, spec: ResNetSpec, images: torch.Tensor, class_names: Sequence[str],
            topk: int = 5) -> list[Prediction]:
    """Classify preprocessed ``images`` (N, 3, H, W) or (3, H, W); one `Prediction` each.

    Raises `DoesNotFit` before the forward when ``spec``'s activations for the whole batch at
    this input size would not fit in the memory free for it (held while the forward runs).
    """
    batch = images.unsqueeze(0) if images.dim() == 3 else images  # (N, 3, H, W)
    device = next(model.parameters()).device
    size = (batch.shape[2], batch.shape[3])
    what = (_("Predicting {count} pictures with {model} at {size} px") if len(batch) > 1
            else _("Predicting one picture with {model} at {size} px")).format(
        count=len(batch), model=spec.name, size=size_text(size))
    with reserved(spec, size, device, what, LOWER_PICTURES, batch=len(batch)), torch.inference_mode():
        batch = batch.to(device)
        synchronize(device)
        start = time.perf_counter()
        logits = model(batch)  # (N, classes)
        probabilities, indices = F.softmax(logits, dim=1).topk(min(topk, logits.shape[1]), dim=1)
        probabilities, indices = probabilities.cpu(), indices.cpu()  # waits for the device
        elapsed_ms = (time.perf_counter() - start) * 1e3 / len(batch)
    if len(class_names) != logits.shape[1]:
        raise ValueError(_("{names} class names for a model with {outputs} outputs.").format(
            names=len(class_names), outputs=logits.shape[1]))
    return [
        Prediction(tuple(int(i) for i in idx), tuple(class_names[int(i)] for i in idx),
                   tuple(float(p) for p in prob), elapsed_ms, str(device))
        for prob, idx in zip(probabilities, indices)
    ]


def grad_cam(model: nn.Module, spec: ResNetSpec, image: torch.Tensor, class_index: int, stage: str | None = None) -> np.ndarray:
    """Where ``image`` (3, H, W) looks like ``class_index``: a (H, W) map in [0, 1].

    Grad-CAM on the output of ``stage`` (default: the last stage): the feature maps
    weighted by the spatial mean of the class score's gradient, ReLU, upsampled.

    Raises `DoesNotFit` before the forward when the activations kept for the backward and
    their gradients (about twice the layer table's activations) would not fit.
    """
    stage = stage or spec.stage_names[-1]
    device = next(model.parameters()).device
    captured: dict[str, torch.Tensor] = {}
    size = (image.shape[1], image.shape[2])
    what = _("Grad-CAM of {model} at {size} px").format(model=spec.name, size=size_text(size))
    with reserved(spec, size, device, what, LOWER_SIZE, activations=2.0), leased_view(model, spec) as view, \
            torch.enable_grad():
        handle = view.get_submodule(stage).register_forward_hook(lambda m, a, out: captured.setdefault("maps", out))
        try:
            logits = view(image.unsqueeze(0).to(device))  # (1, classes)
        finally:
            handle.remove()
        maps = captured["maps"]  # (1, C, h, w)
        (gradient,) = torch.autograd.grad(logits[0, class_index], maps)
    with torch.no_grad():
        weights = gradient.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
        cam = F.relu((weights * maps).sum(dim=1, keepdim=True))  # (1, 1, h, w)
        cam = F.interpolate(cam, size=image.shape[1:], mode="bilinear", align_corners=False)[0, 0]
        cam = cam - cam.min()
        cam = cam / cam.max() if cam.max() > 0 else cam
    return cam.cpu().numpy()
