"""Shared Streamlit pieces of the pages that study a model: the glance and device lines,
tables for st.dataframe, cached models and studies, image and weights pickers, user-facing
errors. (The model picker itself is `picker`: it must not load torch.)
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pandas as pd
import streamlit as st

from explorer.figures import charts
from explorer.analysis.anatomy import LayerTable, layer_table
from explorer.runtime.devices import DoesNotFit, check_fits, describe_device
from explorer.runtime.i18n import N_, _
from explorer.data.images import DecodedImage, ImageError, decode_image, image_digest, sample_images
from explorer.ui.picker import ModelChoice
from explorer.analysis.receptive_field import EFFECTIVE_MASS, receptive_fields, stage_centre_fields, stage_map_size, stage_names
from explorer.studies.shared_results import Finished, SharedResults, SharedRun
from explorer.model.spec import ResNetSpec
from explorer.analysis.table_format import human_bytes, human_count
from explorer.model.checkpoint import Checkpoint, CheckpointError, read_checkpoint
from explorer.model.fitting import fit_head
from explorer.model.pretrained import WeightsUnavailable, available_weights, default_weights, weights_file
from explorer.model.sources import ModelSource, SourceKind, load_model, weights_source

if TYPE_CHECKING:  # the studies' code loads on the zero_init page only
    import torch
    from PIL import Image
    from torch import nn

    from explorer.studies.training import LayerGradient
    from explorer.studies.zero_init import TwinInit

T = TypeVar("T")


def table_or_error(choice: ModelChoice, box=None) -> LayerTable | None:
    """The layer table, or None after a clear st.error (e.g. an input smaller than the stride)."""
    try:
        return layer_table(choice.spec, choice.input_size)
    except ValueError as error:
        (box or st).error(str(error))
        return None


def glance(table: LayerTable, box=None) -> None:
    """One line with the numbers a teacher wants first."""
    t = table.totals
    (box or st.sidebar).caption(_(
        "**{model}** · depth {depth} · {params} params · {macs} MACs · {activations} activations at {size} px"
    ).format(model=table.spec.name, depth=t.depth, params=human_count(t.params), macs=human_count(t.macs),
             activations=human_bytes(t.activation_bytes), size=t.input_size[0]))


def device_caption(box=None) -> None:
    (box or st.sidebar).caption(_("Compute device: {device}").format(device=describe_device().label))


def display_frame(rows: list[dict[str, object]], columns: list[str]):
    """A DataFrame for st.dataframe: a column with gaps becomes text with blanks, not "None"."""
    gappy = {name for name in columns if any(row[name] is None for row in rows)}
    return pd.DataFrame(
        [{name: ("" if row[name] is None else str(row[name])) if name in gappy else row[name] for name in columns}
         for row in rows],
        columns=columns,
    )


def number_columns(frame) -> dict[str, object]:
    """Column config that shows integer columns with thousands separators."""
    return {
        name: st.column_config.NumberColumn(format="localized")
        for name, dtype in frame.dtypes.items()
        if dtype.kind in "iuf"
    }


def name_column(names: Iterable[str]):
    """A pinned column as wide as the longest name, so that no layer name is cut (Streamlit
    sizes a column by its first rows; ``layer1.0.downsample.0`` comes later)."""
    longest = max((len(name) for name in names), default=4)
    return st.column_config.TextColumn(pinned=True, width=int(7.5 * longest) + 28)


def sidebar_model() -> ModelChoice | None:
    """The model chosen in the shared sidebar picker (set by app.py before the page runs)."""
    return st.session_state.get("sidebar_choice")


# ---- images and weights (Feature maps, Predict) --------------------------------------


@dataclass(frozen=True)
class PickedImage:
    """A decoded picture, where it came from (a sample name or the upload's name) and its fingerprint."""

    name: str
    decoded: DecodedImage
    digest: str  # `images.image_digest` of the decoded picture, for memo and cache keys
    sample: bool  # one of the shipped samples (results may be shared), not an upload (private)


def picked_image(name: str, data: bytes, sample: bool = False) -> PickedImage:
    """Decode ``data`` (`decode_image`, raising `ImageError`) and fingerprint the picture."""
    decoded = decode_image(data)
    return PickedImage(name, decoded, image_digest(decoded.image), sample)


def image_picker(prefix: str, box=None) -> PickedImage | None:
    """A shipped sample or an upload, decoded safely; None after a clear st.error.

    A picture is decoded and fingerprinted once per session (uploads by their upload id), not
    on every rerun of the page.
    """
    box = box if box is not None else st
    samples = sample_images()
    # Labels made now, in this run's language: AppTest calls format_func outside the script's thread.
    source_labels = {source: _(source) for source in (N_("sample"), N_("upload"))}
    source = box.radio(_("Image"), list(source_labels), key=f"{prefix}_image_source", horizontal=True,
                       format_func=source_labels.get)
    if source == "sample":
        name = box.selectbox(_("Sample photo"), list(samples), key=f"{prefix}_sample",
                             help=_("Public-domain / CC0 photos, see assets/samples/LICENSES.md."))
        return remembered(f"{prefix}_picked", ("sample", name), lambda: picked_image(name, samples[name].read_bytes(), sample=True))
    # type=None: st.file_uploader judges only the name and raises on one it does not list;
    # decode_image judges the content and explains, so every name is accepted here.
    upload = box.file_uploader(_("Upload an image"), type=None, key=f"{prefix}_upload",
                               help=_("JPEG, PNG, WebP, BMP, GIF, TIFF…; judged by its content, not its name."))
    if upload is None:
        box.info(_("Choose an image file, or switch back to a sample."))
        return None
    try:
        return remembered(f"{prefix}_picked", ("upload", upload.file_id),
                          lambda: picked_image(upload.name, upload.getvalue()))
    except ImageError as error:
        box.error(_("{file}: {error}").format(file=upload.name, error=error))
        return None


def weights_picker(prefix: str, spec: ResNetSpec, box=None) -> tuple[ResNetSpec, ModelSource, Checkpoint | None]:
    """Random (seeded), torchvision ImageNet weights, or an uploaded checkpoint, and the spec they load into.

    The spec is ``spec`` unless a checkpoint fits it with another number of classes: then
    its fc takes the checkpoint's classes (`fit_head`), as fine-tuning code does, and the
    picker says so.
    """
    box = box if box is not None else st
    options = available_weights(spec)
    kinds = [SourceKind.RANDOM, *([SourceKind.IMAGENET] if options else []), SourceKind.CHECKPOINT]
    labels = {SourceKind.RANDOM: N_("random init (seeded)"), SourceKind.IMAGENET: N_("ImageNet (torchvision)"),
              SourceKind.CHECKPOINT: N_("my checkpoint")}
    values = [k.value for k in kinds]  # the widget holds plain text
    if st.session_state.get(f"{prefix}_weights_kind") not in values:
        st.session_state[f"{prefix}_weights_kind"] = (SourceKind.IMAGENET if options else SourceKind.RANDOM).value
    kind_labels = {k.value: _(labels[k]) for k in kinds}  # made now: AppTest formats outside the script's thread
    kind = SourceKind(box.radio(_("Weights"), values, key=f"{prefix}_weights_kind", horizontal=True,
                                format_func=kind_labels.get))
    if kind is SourceKind.IMAGENET:
        name = box.selectbox(_("ImageNet weights"), list(options), index=list(options).index(default_weights(spec)),
                             key=f"{prefix}_weights_name",
                             format_func=lambda n: f"{n} (acc@1 {options[n].meta['_metrics']['ImageNet-1K']['acc@1']}%)")
        return spec, weights_source(spec, name), None
    if kind is SourceKind.CHECKPOINT:
        upload = box.file_uploader(_("Checkpoint (.pth / .pt)"), type=None, key=f"{prefix}_checkpoint",
                                   help=_("A state dict, or a dict with model_state_dict / state_dict; read with "
                                          "weights_only=True."))
        if upload is not None:
            try:
                checkpoint = read_checkpoint(upload.getvalue())
                fitted, note = fit_head(spec, checkpoint)
                if note:
                    box.info(note)
                return fitted, weights_source(fitted, checkpoint=checkpoint), checkpoint
            except CheckpointError as error:
                box.error(_("{file}: {error}").format(file=upload.name, error=error))
        box.warning(_("No usable checkpoint yet: showing random weights."))
    seed = box.number_input(_("Seed"), min_value=0, max_value=2**31 - 1, value=0, step=1, key=f"{prefix}_seed")
    return spec, weights_source(spec, "random", seed=int(seed)), None


# A waiter whose page reruns (any click) is interrupted and rejoins at once; only a run that
# nobody rejoins within this time stops (a stop button's click, a closed tab).
RERUN_GRACE_S = 3.0


def _budget_bytes(variable: str, default_share: float) -> int:
    """``variable`` in MiB if set, else ``default_share`` of the machine's memory (at least 512 MiB)."""
    if variable in os.environ:
        return int(os.environ[variable]) * 2**20
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(512 * 2**20, int(total * default_share))


@st.cache_resource
def class_models() -> SharedResults:
    """Models every session shares, by (spec, weights, device); bounded by their bytes
    (``EXPLORER_MODEL_CACHE_MB``, default a quarter of the memory), least recently used out."""
    return SharedResults(_budget_bytes("EXPLORER_MODEL_CACHE_MB", 0.25))


@st.cache_resource
def class_results() -> SharedResults:
    """Heavy deterministic results every session shares (training runs), bounded by bytes
    (``EXPLORER_RESULTS_CACHE_MB``, default a twentieth of the memory)."""
    return SharedResults(_budget_bytes("EXPLORER_RESULTS_CACHE_MB", 0.05))


FOLLOWING_KEY = "following-class-run"
# While a page follows a class run, the run's own progress bar is its activity indicator, so
# Streamlit's running man is not drawn (its Stop button and the connection state stay) and the
# bar jumps to each new value instead of easing there for half a second. Both are paint work
# in every waiting browser: on a student's laptop, and on the server itself when its browsers
# share its cores (`benchmarks/bench_sessions.py --train`). Only while the script runs, so a
# leftover container (a dropped connection) can hide nothing. Sent once per page run (`page_style`).
FOLLOWING_STYLE = f"""<style>
.stApp[data-test-script-state="running"]:has([class*="st-key-{FOLLOWING_KEY}"])
  [data-testid="stStatusWidgetRunningIcon"] {{display: none}}
[class*="st-key-{FOLLOWING_KEY}"] [data-testid="stProgress"] * {{transition: none}}
</style>"""


def page_style() -> None:
    """The app's own CSS (`FOLLOWING_STYLE`); style-only HTML takes no room on the page."""
    st.html(FOLLOWING_STYLE)


def follow_shared(store: SharedResults, key: Hashable, compute: Callable[[SharedRun], T],
                  size_of: Callable[[T], int], waiting: str, slot: str | None = None) -> T:
    """Join (or start) the run for ``key`` and show its progress until it ends; its value.

    Raises what the run raised. ``slot`` keeps the run in this session's state while it is
    followed, so a stop button can take what it has so far (`stop_following`). A stored
    result is returned at once, with no progress bar drawn (the common case). The progress
    text is made in this session's language (`SharedRun.shown_text`); ``waiting`` already is.
    """
    finished = store.finished(key)
    if finished is not None:
        return finished.value
    run = store.join(key, compute, size_of)
    if slot:
        st.session_state[slot] = run
    box = st.empty()
    # A new key each time: one run of a page may follow two class runs (FOLLOWING_STYLE matches the prefix).
    with box.container(key=f"{FOLLOWING_KEY}-{uuid.uuid4().hex}"):
        bar = st.progress(run.fraction, text=run.shown_text() or waiting)
    try:
        # Once a second is smooth enough, and each update re-renders every follower's page.
        return run.follow(lambda fraction, text: bar.progress(fraction, text=text or waiting), interval=1.0)
    finally:
        store.leave(run, grace=RERUN_GRACE_S)
        box.empty()


def class_or_session_result(shared: bool, slot: str, key: Hashable, compute: Callable[[], T],
                             size_of: Callable[[T], int], waiting: str) -> T:
    """``compute()`` once for the whole class when ``shared`` (nothing uploaded went into it),
    else remembered in this session only (`remembered`): an upload's results stay private."""
    if not shared:
        with st.spinner(waiting):
            return remembered(slot, key, compute)
    return follow_shared(class_results(), key, lambda run: compute(), size_of, waiting)


def stop_following(slot: str) -> None:
    """A stop button's callback: this session stops waiting for the run it follows under ``slot``
    and keeps what the run had so far (in ``slot + "_stopped"``, with the run's key)."""
    st.session_state.pop(slot, None)
    run = st.session_state.pop(f"{slot}_run", None)
    if run is not None and not run.done and run.partial is not None:
        st.session_state[f"{slot}_stopped"] = (run.key, copy.deepcopy(run.partial))


def computed_ago(finished: Finished) -> str:
    """ "computed 2 min ago for this class (in 31 s)", in the reader's language."""
    age = max(0.0, time.time() - finished.finished_at)
    if age < 90:
        return _("computed {age:.0f} s ago for this class (in {seconds:.0f} s)").format(age=age, seconds=finished.seconds)
    if age < 5400:
        return _("computed {age:.0f} min ago for this class (in {seconds:.0f} s)").format(age=age / 60,
                                                                                          seconds=finished.seconds)
    return _("computed {age:.0f} h ago for this class (in {seconds:.0f} s)").format(age=age / 3600,
                                                                                    seconds=finished.seconds)


def model_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers: what keeping it costs."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def _class_model(spec: ResNetSpec, source: ModelSource, device: str) -> nn.Module:
    """A model from random or ImageNet weights, shared by every session (a download shows its progress)."""
    def build(run: SharedRun) -> nn.Module:
        def progress(done: int, total: int | None) -> None:
            # Said when shown: the sessions that follow one download may read different languages.
            run.report(done / total if total else 0.0,
                       lambda: _("Downloading {weights} weights… {size:.0f} MB").format(weights=source.weights,
                                                                                        size=done / 2**20))

        return load_model(spec, source, device, None, progress)

    return follow_shared(class_models(), (spec, source, device), build, model_bytes,
                         _("Building {model} ({weights}) on {device}…").format(model=spec.name,
                                                                               weights=source.short_label, device=device))


@dataclass(frozen=True)
class LoadedModel:
    """A shared model and the weights it really has (offline ImageNet falls back to random)."""

    model: object
    source: ModelSource


def cached_model(spec: ResNetSpec, source: ModelSource, checkpoint: Checkpoint | None = None) -> LoadedModel | None:
    """The model ``source`` describes, or None after an st.error (misfit checkpoint, not enough memory).

    Random and ImageNet weights come from the class's shared models; a checkpoint's model
    stays in this session (an upload is never served to another session). Pretrained
    weights that cannot be had fall back to random weights, clearly labelled.
    """
    device = describe_device().device
    table = layer_table(spec, spec.natural_input_size)
    failed: dict[str, WeightsUnavailable] = st.session_state.setdefault("unavailable_weights", {})
    file = None
    try:
        check_fits(table.totals.param_bytes, table.totals.activation_bytes, device,
                   _("Building {model}").format(model=spec.name))
        if source.kind is SourceKind.CHECKPOINT:
            with st.spinner(_("Loading the checkpoint into {model} on {device}…").format(model=spec.name, device=device)):
                model = remembered("private_model", (spec, source, device),
                                   lambda: load_model(spec, source, device, checkpoint))
            return LoadedModel(model, source)
        file = weights_file(available_weights(spec)[source.weights]) if source.kind is SourceKind.IMAGENET else None
        if file is not None and file.name in failed:  # offline: do not retry on every rerun
            raise failed[file.name].with_traceback(None)
        return LoadedModel(_class_model(spec, source, device), source)
    except WeightsUnavailable as error:
        if file is not None:
            failed[file.name] = error  # kept whole: it says itself in the language of each rerun
        st.error(str(error))
        st.warning(_("Continuing with **random weights (seed 0)**: what follows is an untrained network."))
        fallback = weights_source(spec, "random")
        return LoadedModel(_class_model(spec, fallback, device), fallback)
    except (CheckpointError, DoesNotFit) as error:
        st.error(str(error))
        return None


def remembered(slot: str, key: Hashable, compute: Callable[[], T], max_entries: int = 1) -> T:
    """``compute()``, kept in this session's state under ``slot`` for ``key``.

    For results too large or too private to share between sessions (captured maps, one
    user's predictions): a rerun with the same key reuses them; beyond ``max_entries``
    keys the slot starts afresh. An exception from ``compute`` stores nothing.
    """
    memo: dict = st.session_state.setdefault(slot, {})
    if key not in memo:
        value = compute()
        if len(memo) >= max_entries:
            memo.clear()
        memo[key] = value
    return memo[key]


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


@st.cache_data(max_entries=64, show_spinner=False)
def cached_conventions(spec: ResNetSpec, input_size: int):
    """`count_conventions` (a `Conventions`) per (spec, input size): each call builds three meta models.

    thop and torchinfo load here, on first use, not with every page.
    """
    from explorer.analysis.conventions import count_conventions

    return count_conventions(layer_table(spec, input_size))


# ---- receptive fields (Feature maps; Compare for a second model) -----------------------


def _position_slider(box, label: str, count: int, key: str) -> int:
    """A slider over 0 … count - 1, starting in the middle; a map one position wide needs none."""
    if count == 1:
        box.caption(_("{label}: 0 (the map has one)").format(label=label))
        return 0
    return box.slider(label, 0, count - 1, count // 2, key=key)


def receptive_field_view(prefix: str, model: nn.Module, spec: ResNetSpec, image: torch.Tensor,
                         picture: Image.Image, memo_key: Hashable) -> None:
    """Pick a stage and a position on its map; see the theoretical box and the effective field
    over ``picture`` (``image``, the model's input, before normalisation), and both sizes per stage.

    ``prefix`` keeps the widget keys of two views on one page apart; ``memo_key`` names
    ``model`` and ``image`` (weights, picture, preprocessing), so this session computes each
    field once.
    """
    input_size = tuple(image.shape[1:])
    names = stage_names(spec)
    pick, rows_box, columns_box = st.columns([2, 3, 3])
    # The middle stage first: its box is well inside a picture of the natural size.
    stage = pick.selectbox(_("Stage"), names, index=len(names) // 2, key=f"{prefix}_rf_stage")
    rows, columns = stage_map_size(spec, stage, input_size)
    row_label = _("Row of {stage}'s {rows}×{columns} map").format(stage=stage, rows=rows, columns=columns)
    row = _position_slider(rows_box, row_label, rows, f"{prefix}_rf_row_{stage}")
    column = _position_slider(columns_box, _("Column"), columns, f"{prefix}_rf_column_{stage}")
    with st.spinner(_("The gradient of {stage} at ({row}, {column}) with respect to every input pixel…").format(
            stage=stage, row=row, column=column)):
        (found,) = remembered(f"{prefix}_rf_field", (memo_key, stage, row, column),
                              lambda: receptive_fields(model, spec, image, [(stage, (row, column))]), max_entries=16)
    with st.spinner(_("The receptive field of every stage's centre…")):
        centres = remembered(f"{prefix}_rf_centres", memo_key, lambda: stage_centre_fields(model, spec, image))
    left, right = st.columns(2)
    left.image(charts.receptive_field_picture(picture, found.effective, found.box, found.effective_box),
               width="stretch", caption=_("cyan: theoretical box · reds: effective field (square root of the gradient) "
                                          "· white: the square holding {mass:.0%} of it").format(mass=EFFECTIVE_MASS))
    box, window = found.box, found.window
    place = {"stage": stage, "row": row, "column": column, "top": box.top, "bottom": box.bottom, "left": box.left,
             "right": box.right, "height": box.height, "width": box.width, "effective": found.effective_size}
    if (box.height, box.width) != (window.height, window.width):
        seen = _("**{stage} ({row}, {column})** sees input rows {top}–{bottom} and columns {left}–{right}: a "
                 "{height}×{width} px box (its {window_height}×{window_width} px window is cut by the image's "
                 "border). Effective size: {effective} px.").format(**place, window_height=window.height,
                                                                     window_width=window.width)
    else:
        seen = _("**{stage} ({row}, {column})** sees input rows {top}–{bottom} and columns {left}–{right}: a "
                 "{height}×{width} px box. Effective size: {effective} px.").format(**place)
    left.caption(seen)
    right.plotly_chart(charts.receptive_field_sizes(centres, _("{model}: receptive field of each stage's centre").format(
        model=spec.name)), key=f"{prefix}_rf_sizes", width="stretch")
    right.caption(_("Effective size: the side of the smallest square around the window's centre that holds "
                    "{mass:.0%} of the absolute input gradient. Luo et al. 2016 find the effective field "
                    "Gaussian and a fraction of the theoretical window (dotted): it grows like the square root "
                    "of depth, the window linearly.").format(mass=EFFECTIVE_MASS))
