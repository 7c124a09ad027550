"""Shared Streamlit pieces: the model picker, device line, and user-facing errors.

The picker keeps the chosen spec as a URL token (``?model=resnet50;stride_style=caffe``)
and in session state, so it survives page switches and a teacher can share a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer.anatomy import LayerTable, layer_table
from explorer.devices import DoesNotFit, check_fits, describe_device
from explorer.images import DecodedImage, ImageError, decode_image, sample_images
from explorer.spec import (
    PRESETS, Block, ResNetSpec, Shortcut, Stem, StrideStyle, get_preset, spec_from_token, spec_to_token,
    stages_for_depth,
)
from explorer.table_format import human_bytes, human_count
from explorer.weights import (
    Checkpoint, CheckpointError, ModelSource, WeightsUnavailable, available_weights, load_model, read_checkpoint,
    weights_file,
)

CUSTOM = "custom…"
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
MAX_INPUT_SIZE = 4096


@dataclass(frozen=True)
class ModelChoice:
    """What a picker returns: a valid spec and the input size to study it at."""

    spec: ResNetSpec
    input_size: int


def _parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ValueError(f"{what} must be whole numbers separated by commas, like 3,4,6,3 (got {text!r}).") from None
    if not values:
        raise ValueError(f"{what} needs at least one number.")
    return values


def _default(key: str, value: object) -> None:
    """Seed a widget's state once, so widgets need no ``value=`` (and never fight session state)."""
    if key not in st.session_state:
        st.session_state[key] = value


def _custom_spec(prefix: str, base: ResNetSpec, box) -> ResNetSpec:
    """Widgets for every spec field, seeded from ``base``; raises ValueError on a bad combination."""
    k = f"{prefix}_"
    _default(k + "block", base.block.value)
    _default(k + "stem", base.stem.value)
    _default(k + "by", "stage counts")
    _default(k + "depth", base.depth)
    _default(k + "stages", ",".join(map(str, base.stages)))
    _default(k + "planes", ",".join(map(str, base.stage_planes)))
    _default(k + "groups", base.groups)
    _default(k + "wpg", base.width_per_group)
    _default(k + "stem_width", base.stem_width)
    _default(k + "avg_down", base.avg_down)
    _default(k + "style", base.stride_style.value)
    _default(k + "shortcut", base.shortcut.value)
    _default(k + "dilate", [f"layer{i + 2}" for i, d in enumerate(base.dilate) if d])
    _default(k + "zero_init", base.zero_init_residual)
    _default(k + "classes", base.num_classes)
    _default(k + "in_channels", base.in_channels)

    block = Block(box.selectbox("Block", [b.value for b in Block], key=k + "block",
                                help="basic: two 3x3 convs (ResNet-18/34). bottleneck: 1x1 → 3x3 → 1x1, ×4 wider out (50+)."))
    stem = Stem(box.selectbox("Stem", [s.value for s in Stem], key=k + "stem",
                              help="imagenet: 7x7/2 + max pool. deep: three 3x3 convs (ResNet-C/D). cifar: one 3x3/1, no pool."))
    by = box.radio("Size by", ["depth", "stage counts"], key=k + "by", horizontal=True)
    if by == "depth":
        depth = box.number_input("Depth", min_value=4, max_value=6002, step=1, key=k + "depth",
                                 help="Weighted layers: stem + convs in blocks + fc. Stage counts follow the paper.")
        cifar = stem is Stem.CIFAR
        stages = stages_for_depth(int(depth), block, 3 if cifar else 4, equal=cifar)
        box.caption(f"→ stages {', '.join(map(str, stages))}")
    else:
        stages = _parse_ints(box.text_input("Blocks per stage", key=k + "stages"), "Blocks per stage")
    planes_text = box.text_input("Planes per stage", key=k + "planes",
                                 help="The inner width of each stage's blocks; leave empty to double from 64.")
    planes = _parse_ints(planes_text, "Planes per stage") if planes_text.strip() else ()
    if planes and len(planes) != len(stages):
        planes = ()  # a new stage count: fall back to the paper's doubling
        box.caption("Planes reset to doubling from 64 to match the number of stages.")
    groups, width = base.groups, base.width_per_group
    if block is Block.BOTTLENECK:
        left, right = box.columns(2)
        groups = left.number_input("Groups", min_value=1, max_value=256, step=1, key=k + "groups",
                                   help="ResNeXt cardinality (32 for resnext50_32x4d).")
        width = right.number_input("Width/group", min_value=1, max_value=1024, step=1, key=k + "wpg",
                                   help="64 = plain ResNet; 4 with 32 groups = ResNeXt 32x4d; 128 = Wide ResNet-2.")
    else:
        groups, width = 1, 64
    stem_width = box.number_input("Stem width", min_value=1, max_value=1024, step=1, key=k + "stem_width")
    style = box.radio("Stride on", [s.value for s in StrideStyle], key=k + "style", horizontal=True,
                      format_func=lambda v: {"pytorch": "3x3 (pytorch, v1.5)", "caffe": "1x1 (caffe, v1)"}[v])
    shortcut = box.radio("Shortcut option", [s.value for s in Shortcut], key=k + "shortcut", horizontal=True,
                         help="A: zero-pad identity. B: projection where the shape changes. C: projection everywhere. "
                              "none: a plain network without shortcuts (the paper's baseline).")
    avg_down = box.checkbox("Avg-pool downsampling shortcut (ResNet-D)", key=k + "avg_down")
    stage_names = [f"layer{i + 2}" for i in range(len(stages) - 1)]
    st.session_state[k + "dilate"] = [s for s in st.session_state[k + "dilate"] if s in stage_names]
    dilated = box.multiselect("Dilate instead of stride", stage_names, key=k + "dilate",
                              help="Keeps the resolution and widens the 3x3 convs instead (segmentation backbones).")
    zero_init = box.checkbox("zero_init_residual", key=k + "zero_init")
    left, right = box.columns(2)
    classes = left.number_input("Classes", min_value=1, max_value=100_000, step=1, key=k + "classes")
    in_channels = right.number_input("Input channels", min_value=1, max_value=64, step=1, key=k + "in_channels")
    return ResNetSpec(
        stages=stages, block=block, stage_planes=planes, groups=int(groups), width_per_group=int(width),
        stem=stem, stem_width=int(stem_width), avg_down=avg_down, stride_style=style, shortcut=shortcut,
        dilate=tuple(name in dilated for name in stage_names), zero_init_residual=zero_init,
        num_classes=int(classes), in_channels=int(in_channels),
    )


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
    """A decoded picture and where it came from (a sample name or the upload's name)."""

    name: str
    decoded: DecodedImage


def image_picker(prefix: str, box=None) -> PickedImage | None:
    """A shipped sample or an upload, decoded safely; None after a clear st.error."""
    box = box if box is not None else st
    samples = sample_images()
    source = box.radio("Image", ["sample", "upload"], key=f"{prefix}_image_source", horizontal=True)
    if source == "sample":
        name = box.selectbox("Sample photo", list(samples), key=f"{prefix}_sample",
                             help="Public-domain / CC0 photos, see assets/samples/LICENSES.md.")
        return PickedImage(name, decode_image(samples[name].read_bytes()))
    # type=None: st.file_uploader judges only the name and raises on one it does not list;
    # decode_image judges the content and explains, so every name is accepted here.
    upload = box.file_uploader("Upload an image", type=None, key=f"{prefix}_upload",
                               help="JPEG, PNG, WebP, BMP, GIF, TIFF…; judged by its content, not its name.")
    if upload is None:
        box.info("Choose an image file, or switch back to a sample.")
        return None
    try:
        return PickedImage(upload.name, decode_image(upload.getvalue()))
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
        name = box.selectbox("ImageNet weights", list(options), index=len(options) - 1, key=f"{prefix}_weights_name",
                             format_func=lambda n: f"{n} (acc@1 {options[n].meta['_metrics']['ImageNet-1K']['acc@1']}%)")
        return ModelSource("imagenet", weights=name), None
    if kind == "checkpoint":
        upload = box.file_uploader("Checkpoint (.pth / .pt)", type=None, key=f"{prefix}_checkpoint",
                                   help="A state dict, or a dict with model_state_dict / state_dict; read with weights_only=True.")
        if upload is not None:
            try:
                checkpoint = read_checkpoint(upload.getvalue())
                return ModelSource("checkpoint", checkpoint_digest=checkpoint.digest), checkpoint
            except CheckpointError as error:
                box.error(f"{upload.name}: {error}")
        box.warning("No usable checkpoint yet: showing random weights.")
    seed = box.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=f"{prefix}_seed")
    return ModelSource("random", seed=int(seed)), None


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
        fallback = ModelSource("random")
        return LoadedModel(_shared_model(spec, fallback, device, None), fallback)
    except (CheckpointError, DoesNotFit) as error:
        st.error(str(error))
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def cached_conventions(spec: ResNetSpec, input_size: int):
    """`count_conventions` (a `Conventions`) per (spec, input size): each call builds three meta models.

    thop and torchinfo load here, on first use, not with every page.
    """
    from explorer.conventions import count_conventions

    return count_conventions(layer_table(spec, input_size))
