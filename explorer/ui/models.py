"""Models and studies the pages share: the class's models, this session's checkpoint models,
and the studies cached per their settings."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from explorer.analysis.anatomy import layer_table
from explorer.analysis.memory_needs import LOWER_SIZE
from explorer.model.spec import ResNetSpec
from explorer.model.checkpoint import Checkpoint, CheckpointError
from explorer.model.pretrained import (WeightsUnavailable, available_weights, fetch_weights_command, torchvision_name,
                                       weights_file)
from explorer.model.sources import ModelSource, SourceKind, load_model, weights_source
from explorer.runtime.bounded_cache import BytesBoundedCache
from explorer.runtime.devices import describe_device
from explorer.runtime.i18n import _
from explorer.runtime.memory import RESERVATIONS, DoesNotFit
from explorer.runtime.progress import RunStopped, Text
from explorer.studies.shared_results import SharedRun
from explorer.ui.class_runs import budget_bytes, class_models, follow_shared
from explorer.ui.text import inert_error

if TYPE_CHECKING:  # the studies' code loads on the zero_init page only
    from torch import nn

    from explorer.studies.training import LayerGradient
    from explorer.studies.class_time import StepCost
    from explorer.studies.preactivation import ActivationStudy
    from explorer.studies.zero_init import TwinInit

PRIVATE_MODELS = "private_models"  # this session's checkpoint models (a `BytesBoundedCache`)


def model_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers: what keeping it costs."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _class_model(spec: ResNetSpec, source: ModelSource, device: str) -> nn.Module:
    """A model from random or ImageNet weights, shared by every session (a download shows its progress)."""
    def build(run: SharedRun) -> nn.Module:
        def progress(fraction: float, text: Text = "", partial: object = None) -> None:
            with contextlib.suppress(RunStopped):  # a download is worth finishing for the cache even if nobody waits
                run.report(fraction, text, partial)

        return load_model(spec, source, device, None, progress)

    key = (spec, source, device)
    # A model being built holds its bytes until it is kept (then the memory limit counts it as used).
    holding = (RESERVATIONS.reserve(_build_bytes(spec), device, _("Building {model}").format(model=spec.name),
                                    _(LOWER_SIZE)) if class_models().finished(key) is None else contextlib.nullcontext())
    with holding:
        return follow_shared(class_models(), key, build, model_bytes,
                             _("Building {model} ({weights}) on {device}…").format(
                                 model=spec.name, weights=source.short_label, device=device))


def _build_bytes(spec: ResNetSpec) -> int:
    """What building ``spec`` allocates: its parameters and buffers, from the layer table (no weights made)."""
    return layer_table(spec, spec.natural_input_size).totals.param_bytes


def _private_models() -> BytesBoundedCache:
    """This session's checkpoint models, by (spec, source, device): the source holds the upload's
    digest, so two uploads (Compare's A and B, Predict's two models) coexist. Bounded by
    ``EXPLORER_SESSION_MODELS_MB`` (default a fiftieth of the memory), least recently used out."""
    if PRIVATE_MODELS not in st.session_state:
        st.session_state[PRIVATE_MODELS] = BytesBoundedCache(budget_bytes("EXPLORER_SESSION_MODELS_MB", 0.02))
    return st.session_state[PRIVATE_MODELS]


def _private_model(spec: ResNetSpec, source: ModelSource, device: str, checkpoint: Checkpoint | None) -> nn.Module:
    """A checkpoint's model, kept in this session only (an upload is never served to another session)."""
    models, key = _private_models(), (spec, source, device)
    model = models.get(key)
    if model is None:
        # The model's own copy of the checkpoint's tensors (or of its parameters, if the table says more).
        tensors = sum(t.numel() * t.element_size() for t in checkpoint.state_dict.values()) if checkpoint else 0
        with RESERVATIONS.reserve(max(tensors, _build_bytes(spec)), device,
                                  _("Loading the checkpoint into {model}").format(model=spec.name), _(LOWER_SIZE)), \
                st.spinner(_("Loading the checkpoint into {model} on {device}…").format(model=spec.name, device=device)):
            model = load_model(spec, source, device, checkpoint)
        models.put(key, model, model_bytes(model))
    return model


@dataclass(frozen=True)
class MissingWeights:
    """ImageNet weights a model was to have but could not get (offline), and why."""

    spec: ResNetSpec
    weights: str  # the weights name asked for, e.g. "IMAGENET1K_V1"
    error: WeightsUnavailable  # says itself in the reader's language: the reason, the file and its folder


@dataclass(frozen=True)
class LoadedModel:
    """A shared model and the weights it really has (offline ImageNet falls back to random)."""

    model: object
    source: ModelSource
    missing: MissingWeights | None = None  # the ImageNet weights ``source`` stands in for (`weights_notice`)


def cached_model(spec: ResNetSpec, source: ModelSource, checkpoint: Checkpoint | None = None) -> LoadedModel | None:
    """The model ``source`` describes, or None after an st.error (misfit checkpoint, not enough memory).

    Random and ImageNet weights come from the class's shared models; a checkpoint's model
    stays in this session. Pretrained weights that cannot be had fall back to random weights,
    said once for the whole page by `weights_notice` (`LoadedModel.missing`), not here per model.
    """
    device = describe_device().device
    failed: dict[str, WeightsUnavailable] = st.session_state.setdefault("unavailable_weights", {})
    file = None
    try:
        if source.kind is SourceKind.CHECKPOINT:
            return LoadedModel(_private_model(spec, source, device, checkpoint), source)
        file = weights_file(available_weights(spec)[source.weights]) if source.kind is SourceKind.IMAGENET else None
        if file is not None and file.name in failed:  # offline: do not retry on every rerun
            raise failed[file.name].with_traceback(None)
        return LoadedModel(_class_model(spec, source, device), source)
    except WeightsUnavailable as error:
        if file is not None:
            failed[file.name] = error  # kept whole: it says itself in the language of each rerun
        fallback = weights_source(spec, "random")
        try:
            return LoadedModel(_class_model(spec, fallback, device), fallback,
                               MissingWeights(spec, source.weights or "", error))
        except DoesNotFit as refused:
            st.error(str(refused))
            return None
    except (CheckpointError, DoesNotFit) as error:  # a checkpoint's misfit quotes its key names
        st.error(inert_error(error))
        return None


def weights_notice(loaded: Sequence[object], box=None) -> None:
    """One compact warning for all the models of a page whose ImageNet weights could not be had.

    ``loaded``: what the page loaded (`LoadedModel`s, or anything with their ``missing``; None
    for a model that failed). It names the models, says they run on untrained random weights,
    and gives the command and the Docker build argument that fetch the weights; each download's
    own reason (and the file and folder for a copy by hand) waits in an expander. Nothing when
    every model has its weights.
    """
    box = box if box is not None else st
    missing = {(m.spec, m.weights): m for m in (getattr(item, "missing", None) for item in loaded) if m is not None}
    if not missing:
        return
    models = ", ".join(dict.fromkeys(spec.name for spec, _weights in missing))
    names = " ".join(dict.fromkeys(name for spec, _weights in missing if (name := torchvision_name(spec))))
    box.warning(_("No ImageNet weights for {models} on this server, and no download: showing **untrained** random "
                  "weights. Get them with `{command}`, or build the Docker image with "
                  "`--build-arg BAKE_WEIGHTS=\"{names}\"`.").format(
        models=models, command=fetch_weights_command(list(missing)), names=names), icon=":material/cloud_off:")
    details = box.expander(_("Why the download failed, and where a copied file goes"))
    for notice in missing.values():  # plain text, not markdown: it quotes an address and a folder
        details.text(str(notice.error))


@st.cache_data(max_entries=16, show_spinner=False)
def init_study(spec: ResNetSpec, seed: int, batch: int, size: int) -> TwinInit:
    """`zero_init.twin_init`, shared by sessions that ask for the same study."""
    from explorer.studies.zero_init import twin_init

    return twin_init(spec, seed, batch, size)


@st.cache_data(max_entries=8, show_spinner=False)
def plain_vs_residual_gradients(spec: ResNetSpec, seed: int, batch: int) -> dict[str, tuple[LayerGradient, ...]]:
    """`degradation.initial_gradients`, shared by sessions that ask for the same depth and batch."""
    from explorer.studies.degradation import initial_gradients

    return initial_gradients(spec, seed, batch)


@st.cache_data(max_entries=8, show_spinner=False)
def post_vs_pre_activation(spec: ResNetSpec, seed: int, batch: int) -> ActivationStudy:
    """`preactivation.activation_study`, shared by sessions that ask for the same depth and batch."""
    from explorer.studies.preactivation import activation_study

    return activation_study(spec, seed, batch)


@st.cache_data(max_entries=64, show_spinner=False)
def step_cost(spec: ResNetSpec) -> StepCost:
    """`class_time.measure_step_cost`, once per model for the whole server: the timed steps every
    session's estimates and default settings scale from (a few steps at 32 px, keyed by the
    spec alone: `StepCost` scales them to any batch and picture size)."""
    from explorer.studies.class_time import measure_step_cost

    return measure_step_cost(spec)


def study_costs(specs: dict[str, ResNetSpec]) -> tuple[StepCost, ...] | None:
    """A `StepCost` for every model a study trains (`class_time.model_costs`, measured once per
    model for the server), or None when a model's timed steps would not fit in memory (the
    study's own refusal then says so, with what to change)."""
    from explorer.studies.class_time import model_costs

    try:
        with st.spinner(_("Timing a few training steps of each model on this server…")):
            return model_costs(specs, step_cost)
    except DoesNotFit:
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def cached_conventions(spec: ResNetSpec, input_size: int):
    """`count_conventions` (a `Conventions`) per (spec, input size): each call builds three meta models.

    thop and torchinfo load here, on first use, not with every page.
    """
    from explorer.analysis.conventions import count_conventions

    return count_conventions(layer_table(spec, input_size))
