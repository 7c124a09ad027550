"""The degradation problem: plain nets (no shortcuts) against ResNets of the same depth.

Without shortcuts, deeper networks train worse than shallower ones, and not from
overfitting: their training loss is higher (He et al. 2016, https://arxiv.org/abs/1512.03385,
Fig. 1 and section 4.2). With shortcuts the deeper net trains at least as well. The study
trains the CIFAR ResNets of section 4.2 with and without their shortcuts on the shapes
task, from one seed, on the same batches.
"""

from __future__ import annotations

from explorer.runtime.i18n import N_
from explorer.model.kinds import Shortcut
from explorer.model.spec import ResNetSpec
from explorer.studies.training import (
    LayerGradient, gradient_norms, training_memory, twins_batch, with_task_head,
)

PAPER_DEPTHS = (20, 32, 44, 56, 110)  # the CIFAR ResNets of section 4.2 (6n + 2)
DEFAULT_SHALLOW, DEFAULT_DEEP = 20, 56  # the pair of the paper's Fig. 1
# How the studies label the two versions of a depth. They key class-shared results, so they
# stay English; a page shows the plain one through `_()` (the residual one is a model name).
PLAIN_LABEL, RESIDUAL_LABEL = N_("plain-{depth}"), "ResNet-{depth}"


def degradation_models(*specs: ResNetSpec) -> dict[str, ResNetSpec]:
    """Plain and residual versions of each spec, e.g. depths 20 and 56 (the paper's Fig. 1 / Fig. 6)."""
    models = {}
    for spec in specs:
        residual = spec if spec.shortcut is not Shortcut.NONE else spec.with_changes(shortcut=spec.family.shortcut)
        models[PLAIN_LABEL.format(depth=spec.depth)] = residual.with_changes(shortcut=Shortcut.NONE)
        models[RESIDUAL_LABEL.format(depth=spec.depth)] = residual
    return models


def twin_of(spec: ResNetSpec) -> ResNetSpec:
    """The paper's twin of ``spec``: without shortcuts for a ResNet, with them for a plain net."""
    plain, residual = degradation_models(spec).values()
    return plain if spec.shortcut is not Shortcut.NONE else residual


def initial_gradients(spec: ResNetSpec, seed: int, batch_size: int) -> dict[str, tuple[LayerGradient, ...]]:
    """Gradient norm per layer at initialisation of the plain and residual versions of ``spec``.

    One backward pass on a batch of the shapes task at the spec's own input size (32 px for
    a CIFAR net), with the head the training runs give it (`with_task_head`); both nets see
    the same batch.
    """
    models = degradation_models(with_task_head(spec))
    inputs, labels, size = twins_batch(models, seed, batch_size)
    gradients = {}
    for label, model_spec in models.items():  # one at a time, each holding its memory while it runs
        with training_memory(model_spec, size, batch_size):
            gradients[label] = gradient_norms(model_spec, seed, inputs, labels)
    return gradients
