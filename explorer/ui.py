"""Shared Streamlit pieces: the model picker, device line, and user-facing errors.

The picker keeps the chosen spec as a URL token (``?model=resnet50;stride_style=caffe``)
and in session state, so it survives page switches and a teacher can share a link.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pandas as pd
import streamlit as st

from explorer.anatomy import LayerTable, layer_table
from explorer.devices import DoesNotFit, check_fits, describe_device
from explorer.images import DecodedImage, ImageError, decode_image, image_digest, sample_images
from explorer.presets import PRESETS, get_preset
from explorer.spec import SPEC_FIELDS, Block, FieldInfo, ResNetSpec, Widget, spec_for_depth
from explorer.spec_token import spec_from_token, spec_to_token
from explorer.table_format import human_bytes, human_count
from explorer.weights import (
    Checkpoint, CheckpointError, ModelSource, WeightsUnavailable, available_weights, default_weights, load_model,
    read_checkpoint, weights_file, weights_source,
)

if TYPE_CHECKING:  # the studies' code loads on the zero_init page only
    from explorer.training import LayerGradient
    from explorer.zero_init import TwinInit

T = TypeVar("T")
CUSTOM = "custom…"
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
MAX_INPUT_SIZE = 4096


@dataclass(frozen=True)
class ModelChoice:
    """What a picker returns: a valid spec and the input size to study it at."""

    spec: ResNetSpec
    input_size: int


def _default(key: str, value: object) -> None:
    """Seed a widget's state once, so widgets need no ``value=`` (and never fight session state)."""
    if key not in st.session_state:
        st.session_state[key] = value


def _stage_names(num_stages: int) -> list[str]:
    """The stages after the first, as the picker names them (``dilate`` has one flag each)."""
    return [f"layer{i + 2}" for i in range(num_stages - 1)]


def _widget_value(info: FieldInfo, value: object) -> object:
    """A field's value as its widget holds it in session state."""
    if info.widget is Widget.INTS:
        return info.format(value)
    if info.widget is Widget.LATER_STAGES:
        return [name for name, on in zip(_stage_names(len(value) + 1), value) if on]
    if info.enum is not None:
        return value.value
    return value


def _field_widget(box, key: str, info: FieldInfo, num_stages: int) -> object:
    """The widget `FieldInfo.widget` names; returns the field's value (ValueError naming bad text)."""
    if info.widget is Widget.SELECT:
        return info.parse(box.selectbox(info.label, info.choices, key=key, help=info.help))
    if info.widget is Widget.RADIO:
        labels = dict(zip(info.choices, info.choice_labels))
        return info.parse(box.radio(info.label, info.choices, key=key, help=info.help, horizontal=True,
                                    format_func=lambda value: labels.get(value, value)))
    if info.widget is Widget.CHECKBOX:
        return box.checkbox(info.label, key=key, help=info.help)
    if info.widget is Widget.NUMBER:
        return int(box.number_input(info.label, min_value=1, max_value=info.maximum, step=1, key=key, help=info.help))
    if info.widget is Widget.INTS:
        try:
            return info.parse(box.text_input(info.label, key=key, help=info.help))
        except ValueError as error:
            raise ValueError(f"{info.label}: {error}") from None
    names = _stage_names(num_stages)  # Widget.LATER_STAGES
    st.session_state[key] = [name for name in st.session_state[key] if name in names]
    chosen = box.multiselect(info.label, names, key=key, help=info.help)
    return tuple(name in chosen for name in names)


def _custom_spec(prefix: str, base: ResNetSpec, box) -> ResNetSpec:
    """One widget per spec field (from its `FieldInfo`), seeded from ``base``; ValueError on a bad combination.

    Fields that do not depend on the stage count come first; then the size, as a depth
    (`spec_for_depth`, as ``--depth`` does) or as blocks per stage; then the per-stage fields,
    whose widgets need the stage count. Bottleneck-only fields are hidden for basic blocks
    and keep `ResNetSpec`'s defaults there.
    """
    keys = {name: f"{prefix}_{info.flag}" for name, info in SPEC_FIELDS.items()}
    for name, info in SPEC_FIELDS.items():
        _default(keys[name], _widget_value(info, getattr(base, name)))
    _default(f"{prefix}_by", "stage counts")
    _default(f"{prefix}_depth", base.depth)

    values: dict[str, object] = {}
    for name, info in SPEC_FIELDS.items():
        if name == "stages" or info.per_stage or (info.bottleneck_only and values["block"] is not Block.BOTTLENECK):
            continue
        values[name] = _field_widget(box, keys[name], info, len(base.stages))
    by = box.radio("Size by", ["depth", "stage counts"], key=f"{prefix}_by", horizontal=True)
    if by == "depth":
        depth = box.number_input("Depth", min_value=4, max_value=6002, step=1, key=f"{prefix}_depth",
                                 help="Weighted layers: stem + convs in blocks + fc. Three equal stages with a "
                                      "CIFAR stem, else four in the paper's proportions.")
        stages = spec_for_depth(ResNetSpec(**values), int(depth)).stages
        box.caption(f"→ stages {', '.join(map(str, stages))}")
    else:
        stages = _field_widget(box, keys["stages"], SPEC_FIELDS["stages"], len(base.stages))
    for name, info in SPEC_FIELDS.items():
        if info.per_stage:
            value = _field_widget(box, keys[name], info, len(stages))
            if info.widget is Widget.INTS and value and len(value) != len(stages):
                value = ()  # typed for another stage count: back to the default (planes doubling from 64)
                box.caption(f"{info.label}: back to the default, to match the {len(stages)} stages.")
            values[name] = value
    return ResNetSpec(stages=stages, **values)


def model_picker(prefix: str, default: str, box=None, label: str = "Model", with_input_size: bool = True) -> ModelChoice | None:
    """Preset or custom spec, kept in the URL under ``prefix``; None (after an st.error) if invalid."""
    box = box if box is not None else st.sidebar
    token_key, size_key = f"{prefix}_token", f"{prefix}_input"
    if token_key not in st.session_state:
        st.session_state[token_key] = st.query_params.get(prefix, default)
    try:
        base = spec_from_token(st.session_state[token_key])
    except ValueError as error:
        box.warning(f"Ignoring the model in the link: {error}")
        base = get_preset(default)
    _default(f"{prefix}_preset", base.preset or CUSTOM)
    choice = box.selectbox(label, [*PRESETS, CUSTOM], key=f"{prefix}_preset",
                           help="A preset, or custom… to change any field (starting from the last model).")
    try:
        spec = _custom_spec(prefix, base, box.expander("Custom architecture", expanded=True)) if choice == CUSTOM else PRESETS[choice]
    except ValueError as error:
        box.error(f"This combination cannot be built: {error}")
        return None
    st.session_state[token_key] = spec_to_token(spec)
    st.query_params[prefix] = st.session_state[token_key]
    size = spec.natural_input_size
    if with_input_size:
        if size_key not in st.session_state:
            st.session_state[size_key] = int(st.query_params.get(size_key, size)) if str(st.query_params.get(size_key, size)).isdigit() else size
        size = int(box.number_input("Input size (px)", min_value=1, max_value=MAX_INPUT_SIZE, step=16, key=size_key,
                                    help="Side of the square input image. ImageNet models use 224, CIFAR ones 32."))
        st.query_params[size_key] = str(size)
    return ModelChoice(spec, size)


def choose_model(prefix: str, spec: ResNetSpec) -> None:
    """Make the picker ``prefix`` show ``spec`` from the next run on (its widgets re-seed)."""
    st.session_state[f"{prefix}_token"] = spec_to_token(spec)
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{prefix}_") and k != f"{prefix}_token"
                and k != f"{prefix}_input"]:
        del st.session_state[key]


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
    (box or st.sidebar).caption(
        f"**{table.spec.name}** · depth {t.depth} · {human_count(t.params)} params · "
        f"{human_count(t.macs)} MACs · {human_bytes(t.activation_bytes)} activations at {t.input_size[0]} px"
    )


def device_caption(box=None) -> None:
    (box or st.sidebar).caption(f"Compute device: {describe_device().label}")


def pages() -> dict[str, st.Page]:
    """The app's pages by name; `st.navigation` and `st.page_link` take these objects."""
    return {
        "home": st.Page(PAGES_DIR / "home.py", title="Home", icon=":material/home:", default=True),
        "architecture": st.Page(PAGES_DIR / "architecture.py", title="Architecture", icon=":material/account_tree:", url_path="architecture"),
        "compare": st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        "feature_maps": st.Page(PAGES_DIR / "feature_maps.py", title="Feature maps", icon=":material/grid_view:",
                                url_path="feature-maps"),
        "zero_init": st.Page(PAGES_DIR / "zero_init.py", title="zero_init_residual", icon=":material/exposure_zero:",
                             url_path="zero-init"),
        "predict": st.Page(PAGES_DIR / "predict.py", title="Predict", icon=":material/label:", url_path="predict"),
    }


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


def picked_image(name: str, data: bytes) -> PickedImage:
    """Decode ``data`` (`decode_image`, raising `ImageError`) and fingerprint the picture."""
    decoded = decode_image(data)
    return PickedImage(name, decoded, image_digest(decoded.image))


def image_picker(prefix: str, box=None) -> PickedImage | None:
    """A shipped sample or an upload, decoded safely; None after a clear st.error.

    A picture is decoded and fingerprinted once per session (uploads by their upload id), not
    on every rerun of the page.
    """
    box = box if box is not None else st
    samples = sample_images()
    source = box.radio("Image", ["sample", "upload"], key=f"{prefix}_image_source", horizontal=True)
    if source == "sample":
        name = box.selectbox("Sample photo", list(samples), key=f"{prefix}_sample",
                             help="Public-domain / CC0 photos, see assets/samples/LICENSES.md.")
        return remembered(f"{prefix}_picked", ("sample", name), lambda: picked_image(name, samples[name].read_bytes()))
    # type=None: st.file_uploader judges only the name and raises on one it does not list;
    # decode_image judges the content and explains, so every name is accepted here.
    upload = box.file_uploader("Upload an image", type=None, key=f"{prefix}_upload",
                               help="JPEG, PNG, WebP, BMP, GIF, TIFF…; judged by its content, not its name.")
    if upload is None:
        box.info("Choose an image file, or switch back to a sample.")
        return None
    try:
        return remembered(f"{prefix}_picked", ("upload", upload.file_id),
                          lambda: picked_image(upload.name, upload.getvalue()))
    except ImageError as error:
        box.error(f"{upload.name}: {error}")
        return None


def weights_picker(prefix: str, spec: ResNetSpec, box=None) -> tuple[ModelSource, Checkpoint | None]:
    """Random (seeded), torchvision ImageNet weights, or an uploaded checkpoint."""
    box = box if box is not None else st
    options = available_weights(spec)
    kinds = ["random", *(["imagenet"] if options else []), "checkpoint"]
    labels = {"random": "random init (seeded)", "imagenet": "ImageNet (torchvision)", "checkpoint": "my checkpoint"}
    if st.session_state.get(f"{prefix}_weights_kind") not in kinds:
        st.session_state[f"{prefix}_weights_kind"] = "imagenet" if options else "random"
    kind = box.radio("Weights", kinds, key=f"{prefix}_weights_kind", horizontal=True, format_func=labels.get)
    if kind == "imagenet":
        name = box.selectbox("ImageNet weights", list(options), index=list(options).index(default_weights(spec)),
                             key=f"{prefix}_weights_name",
                             format_func=lambda n: f"{n} (acc@1 {options[n].meta['_metrics']['ImageNet-1K']['acc@1']}%)")
        return weights_source(spec, name), None
    if kind == "checkpoint":
        upload = box.file_uploader("Checkpoint (.pth / .pt)", type=None, key=f"{prefix}_checkpoint",
                                   help="A state dict, or a dict with model_state_dict / state_dict; read with weights_only=True.")
        if upload is not None:
            try:
                checkpoint = read_checkpoint(upload.getvalue())
                return weights_source(spec, checkpoint=checkpoint), checkpoint
            except CheckpointError as error:
                box.error(f"{upload.name}: {error}")
        box.warning("No usable checkpoint yet: showing random weights.")
    seed = box.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=f"{prefix}_seed")
    return weights_source(spec, "random", seed=int(seed)), None


@st.cache_resource(max_entries=4, show_spinner=False)
def _shared_model(spec: ResNetSpec, source: ModelSource, device: str, _checkpoint: Checkpoint | None, _progress=None):
    """One model per (spec, weights, device) for every session; never modified after this."""
    return load_model(spec, source, device, _checkpoint, _progress)


@dataclass(frozen=True)
class LoadedModel:
    """A shared model and the weights it really has (offline ImageNet falls back to random)."""

    model: object
    source: ModelSource


def cached_model(spec: ResNetSpec, source: ModelSource, checkpoint: Checkpoint | None = None) -> LoadedModel | None:
    """The shared model, or None after an st.error (misfit checkpoint, not enough memory).

    Pretrained weights that cannot be had fall back to random weights, clearly labelled.
    """
    device = describe_device().device
    table = layer_table(spec, spec.natural_input_size)
    failed: dict[str, str] = st.session_state.setdefault("unavailable_weights", {})
    file = None
    try:
        check_fits(table.totals.param_bytes, table.totals.activation_bytes, device, f"Building {spec.name}")
        file = weights_file(available_weights(spec)[source.weights]) if source.kind == "imagenet" else None
        if file is not None and file.name in failed:  # offline: do not retry on every rerun
            raise WeightsUnavailable(failed[file.name])
        if file is not None and not file.exists():
            bar = st.progress(0.0, text=f"Downloading {source.weights} weights for {spec.name}…")

            def progress(done: int, total: int | None) -> None:
                bar.progress(min(done / total, 1.0) if total else 0.0, text=f"Downloading… {done / 2**20:.0f} MB")

            try:
                return LoadedModel(_shared_model(spec, source, device, checkpoint, progress), source)
            finally:
                bar.empty()
        with st.spinner(f"Building {spec.name} ({source.label}) on {device}…"):
            return LoadedModel(_shared_model(spec, source, device, checkpoint), source)
    except WeightsUnavailable as error:
        if file is not None:
            failed[file.name] = str(error)
        st.error(str(error))
        st.warning("Continuing with **random weights (seed 0)**: what follows is an untrained network.")
        fallback = weights_source(spec, "random")
        return LoadedModel(_shared_model(spec, fallback, device, None), fallback)
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
    from explorer.zero_init import twin_init

    return twin_init(spec, seed, batch, size)


@st.cache_data(max_entries=8, show_spinner=False)
def plain_vs_residual_gradients(spec: ResNetSpec, seed: int, batch: int) -> dict[str, tuple[LayerGradient, ...]]:
    """`degradation.initial_gradients`, shared by sessions that ask for the same depth and batch."""
    from explorer.degradation import initial_gradients

    return initial_gradients(spec, seed, batch)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_conventions(spec: ResNetSpec, input_size: int):
    """`count_conventions` (a `Conventions`) per (spec, input size): each call builds three meta models.

    thop and torchinfo load here, on first use, not with every page.
    """
    from explorer.conventions import count_conventions

    return count_conventions(layer_table(spec, input_size))
