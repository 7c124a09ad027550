"""The shared model picker and the app's page list: no torch, so the first page opens fast.

`app.py` runs the picker on every page, the first one included, before any page loads
torch (~3 s here). The picker keeps the chosen spec as a URL token
(``?model=resnet50;stride_style=caffe``) and in session state, so it survives page
switches and a teacher can share a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.runtime import i18n
from explorer.runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, SESSION_KEY, N_, _
from explorer.model.presets import PRESETS, get_preset
from explorer.model.fields import FieldInfo, Widget
from explorer.model.spec import SPEC_FIELDS, ResNetSpec, spec_for_depth, stage_name
from explorer.model.token import spec_from_token, spec_to_token
from explorer.ui.choices import valid_choice, valid_choices
from explorer.ui.text import inert_error

CUSTOM = N_("custom…")
PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"
MAX_INPUT_SIZE = 4096


def _session_language() -> str | None:
    """The session's language in its script thread; None elsewhere (worker threads, the CLI)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(SESSION_KEY, DEFAULT_LANGUAGE)


i18n.read_session_language_with(_session_language)


@dataclass(frozen=True)
class ModelChoice:
    """What a picker returns: a valid spec and the input size to study it at."""

    spec: ResNetSpec
    input_size: int


SIDEBAR_CHOICE = "sidebar_choice"  # where app.py keeps the sidebar picker's `ModelChoice` for the page


def sidebar_model() -> ModelChoice | None:
    """The model chosen in the shared sidebar picker (set by app.py before the page runs)."""
    return st.session_state.get(SIDEBAR_CHOICE)


def _default(key: str, value: object) -> None:
    """Seed a widget's state once, so widgets need no ``value=`` (and never fight session state)."""
    if key not in st.session_state:
        st.session_state[key] = value


def _stage_names(num_stages: int) -> list[str]:
    """The stages after the first, as the picker names them (``dilate`` has one flag each)."""
    return [stage_name(stage) for stage in range(1, num_stages)]


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
        return info.parse(box.selectbox(_(info.label), info.choices, key=key, help=_(info.help)))
    if info.widget is Widget.RADIO:
        labels = {value: _(label) for value, label in zip(info.choices, info.choice_labels)}  # made now: see size_by
        valid_choice(key, info.choices, label=lambda value: labels.get(value, value))
        return info.parse(box.radio(_(info.label), info.choices, key=key, help=_(info.help), horizontal=True,
                                    format_func=lambda value: labels.get(value, value)))
    if info.widget is Widget.CHECKBOX:
        return box.checkbox(_(info.label), key=key, help=_(info.help))
    if info.widget is Widget.NUMBER:
        return int(box.number_input(_(info.label), min_value=1, max_value=info.maximum, step=1, key=key, help=_(info.help)))
    if info.widget is Widget.INTS:
        try:
            return info.parse(box.text_input(_(info.label), key=key, help=_(info.help)))
        except ValueError as error:
            raise ValueError(f"{_(info.label)}: {error}") from None
    names = _stage_names(num_stages)  # Widget.LATER_STAGES
    valid_choices(key, names)  # a stage the model no longer has is dropped, and the browser told
    chosen = box.multiselect(_(info.label), names, key=key, help=_(info.help))
    return tuple(name in chosen for name in names)


def _shown(info: FieldInfo, values: dict[str, object]) -> bool:
    """Whether a field means something for the values chosen above it."""
    if info.shown_if is None:
        return True
    field, value = info.shown_if
    if field not in values:  # the field it depends on is hidden itself (Res2Net's scales for basic blocks)
        return False
    return getattr(values[field], "value", values[field]) == value


def _custom_spec(prefix: str, base: ResNetSpec, box) -> ResNetSpec:
    """One widget per spec field (from its `FieldInfo`), seeded from ``base``; ValueError on a bad combination.

    Fields that do not depend on the stage count come first; then the size, as a depth
    (`spec_for_depth`, as ``--depth`` does) or as blocks per stage; then the per-stage fields,
    whose widgets need the stage count. A field that means nothing for the values above it
    (`FieldInfo.shown_if`: groups for basic blocks, SE's reduction without SE) is hidden and
    keeps `ResNetSpec`'s default. Every widget is drawn even after a bad one: a widget left out
    of one run comes back in the browser at its default, not at what the reader had typed.
    """
    keys = {name: f"{prefix}_{info.flag}" for name, info in SPEC_FIELDS.items()}
    for name, info in SPEC_FIELDS.items():
        _default(keys[name], _widget_value(info, getattr(base, name)))
    _default(f"{prefix}_by", "stage counts")
    _default(f"{prefix}_depth", base.depth)

    errors: list[str] = []
    values: dict[str, object] = {}
    for name, info in SPEC_FIELDS.items():
        if name == "stages" or info.per_stage or not _shown(info, values):
            continue
        values[name] = _drawn_field(box, keys[name], info, len(base.stages), getattr(base, name), errors)
    # Labels translated now, not in format_func: AppTest formats options outside the session.
    size_by = {value: _(value) for value in (N_("depth"), N_("stage counts"))}
    valid_choice(f"{prefix}_by", list(size_by), label=size_by.get)
    by = box.radio(_("Size by"), list(size_by), key=f"{prefix}_by", horizontal=True, format_func=size_by.get)
    stages, stages_known = base.stages, not errors  # a depth needs the fields above it; counts need their text
    if by == "depth":
        depth = box.number_input(_("Depth"), min_value=4, max_value=6002, step=1, key=f"{prefix}_depth",
                                 help=_("Weighted layers: stem + convs in blocks + fc. Three equal stages with a "
                                        "CIFAR stem, else four in the paper's proportions."))
        try:
            if stages_known:
                stages = spec_for_depth(ResNetSpec(**values), int(depth)).stages
                box.caption(_("→ stages {stages}").format(stages=", ".join(map(str, stages))))
        except ValueError as error:
            errors.append(str(error))
            stages_known = False
    else:
        before = len(errors)
        stages = _drawn_field(box, keys["stages"], SPEC_FIELDS["stages"], len(base.stages), base.stages, errors)
        stages_known = len(errors) == before
    for name, info in SPEC_FIELDS.items():
        if info.per_stage:
            if (info.widget is Widget.INTS and stages_known
                    and not _fits_stages(info, st.session_state[keys[name]], len(stages))):
                # Typed for another stage count: back to the default (planes doubling from 64), in the box too.
                st.session_state[keys[name]] = info.format(())
                box.caption(_("{field}: back to the default, to match the {count} stages.").format(
                    field=_(info.label), count=len(stages)))
            values[name] = _drawn_field(box, keys[name], info, len(stages), getattr(base, name), errors)
    if errors:
        raise ValueError(errors[0])
    return ResNetSpec(stages=stages, **values)


def _drawn_field(box, key: str, info: FieldInfo, num_stages: int, fallback: object, errors: list[str]) -> object:
    """`_field_widget`'s value, or ``fallback`` with the reason added to ``errors`` when its text is bad."""
    try:
        return _field_widget(box, key, info, num_stages)
    except ValueError as error:
        errors.append(str(error))
        return fallback


def _fits_stages(info: FieldInfo, text: str, count: int) -> bool:
    """Whether a per-stage INTS field's text has one entry per stage (or none: the default); text
    that does not parse fits, for its widget to explain."""
    try:
        return len(info.parse(text)) in (0, count)
    except ValueError:
        return True


def _from_link(param: str) -> str | None:
    """The address's ``param`` when it came from a link (Home's lesson path, a shared URL), else None.

    The picker writes its choice to the address on every run; a value other than the last one
    it wrote was put there by whoever opened the page.
    """
    value = st.query_params.get(param)
    return value if value is not None and value != st.session_state.get("picker_wrote", {}).get(param) else None


def claim_address() -> None:
    """Take the address's values as this session's own, not a link to follow.

    For a class follower's run that takes the teacher's view: that run may carry the address
    of a poll sent before the browser saw the last model in it, and the old model there must
    not win over the teacher's.
    """
    wrote = st.session_state.setdefault("picker_wrote", {})
    for param, value in st.query_params.items():
        wrote[param] = value


def _to_address(param: str, value: str) -> None:
    st.query_params[param] = value
    st.session_state.setdefault("picker_wrote", {})[param] = value


def language_switch(box=None) -> str:
    """English / 简体中文 for this session, kept in the URL (``?lang=zh``) and across pages like the
    model; a link's language wins, then the session's, then English."""
    box = box if box is not None else st.sidebar
    linked = _from_link(SESSION_KEY)
    if linked in LANGUAGES:
        st.session_state[SESSION_KEY] = linked
    elif SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = DEFAULT_LANGUAGE
    chosen = box.radio(_("Language"), list(LANGUAGES), key=SESSION_KEY, format_func=LANGUAGES.get, horizontal=True)
    _to_address(SESSION_KEY, chosen)
    return chosen


def model_picker(prefix: str, default: str, box=None, label: str = N_("Model"), with_input_size: bool = True,
                 url_param: str | None = None) -> ModelChoice | None:
    """Preset or custom spec; None (after an st.error) if invalid.

    ``prefix`` starts the widgets' keys; the spec is kept in the URL under ``url_param``
    (``prefix`` when not given) and the input size under ``url_param + "_input"``: a page's
    widget keys carry its own prefix while the links people share keep their short names.
    """
    box = box if box is not None else st.sidebar
    param = url_param or prefix
    token_key, size_key = f"{prefix}_token", f"{prefix}_input"
    linked = _from_link(param)
    if linked is not None:  # the link's model wins over what this session had chosen
        _reseed(prefix)
        st.session_state[token_key] = linked
    if token_key not in st.session_state:
        st.session_state[token_key] = default
    try:
        base = spec_from_token(st.session_state[token_key])
    except ValueError as error:
        box.warning(_("Ignoring the model in the link: {error}").format(error=inert_error(error)))
        base = get_preset(default)
    custom = _(CUSTOM)
    valid_choice(f"{prefix}_preset", [*PRESETS, CUSTOM], base.preset or CUSTOM,
                 label=lambda name: custom if name == CUSTOM else name)
    choice = box.selectbox(_(label), [*PRESETS, CUSTOM], key=f"{prefix}_preset",
                           format_func=lambda name: custom if name == CUSTOM else name,
                           help=_("A preset, or custom… to change any field (starting from the last model)."))
    try:
        spec = _custom_spec(prefix, base, box.expander(_("Custom architecture"), expanded=True)) if choice == CUSTOM else PRESETS[choice]
    except ValueError as error:
        box.error(_("This combination cannot be built: {error}").format(error=inert_error(error)))
        spec = None
    else:
        st.session_state[token_key] = spec_to_token(spec)
        _to_address(param, st.session_state[token_key])
    size = (spec or base).natural_input_size
    if with_input_size:  # drawn under an error too, so that it keeps its value in the browser
        size = _input_size(box, f"{param}_input", size_key, size)
    return None if spec is None else ModelChoice(spec, size)


def _input_size(box, param: str, key: str, natural: int) -> int:
    """The input size box: a link's size wins, then the session's, then the model's ``natural`` one."""
    linked = _from_link(param) or ""
    # ASCII digits only: "²" and "٣" are str.isdigit() too, and int() of 5,000 digits raises.
    if re.fullmatch(r"[0-9]{1,5}", linked) and 1 <= int(linked) <= MAX_INPUT_SIZE:
        st.session_state[key] = int(linked)
    elif key not in st.session_state:
        st.session_state[key] = natural
    size = int(box.number_input(_("Input size (px)"), min_value=1, max_value=MAX_INPUT_SIZE, step=16, key=key,
                                help=_("Side of the square input image. ImageNet models use 224, CIFAR ones 32.")))
    _to_address(param, str(size))
    return size


def choose_model(prefix: str, spec: ResNetSpec) -> None:
    """Make the picker ``prefix`` show ``spec`` from the next run on (its widgets re-seed)."""
    choose_token(prefix, spec_to_token(spec))


def choose_token(prefix: str, token: str) -> None:
    """Make the picker ``prefix`` show the spec of ``token`` (a teacher's, in class mode) from the
    next run on; a token that does not parse is said there, as a link's is."""
    st.session_state[f"{prefix}_token"] = token
    _reseed(prefix)


def _reseed(prefix: str) -> None:
    """Forget the picker's widgets, so they take their values from its token on their next run."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{prefix}_") and k != f"{prefix}_token"
                and k != f"{prefix}_input"]:
        del st.session_state[key]


def pages() -> dict[str, st.Page]:
    """The app's pages by name; `st.navigation` and `st.page_link` take these objects."""
    return {
        "home": st.Page(PAGES_DIR / "home.py", title=_("Home"), icon=":material/home:", default=True),
        "architecture": st.Page(PAGES_DIR / "architecture.py", title=_("Architecture"), icon=":material/account_tree:", url_path="architecture"),
        "compare": st.Page(PAGES_DIR / "compare.py", title=_("Compare"), icon=":material/compare_arrows:", url_path="compare"),
        "feature_maps": st.Page(PAGES_DIR / "feature_maps.py", title=_("Feature maps"), icon=":material/grid_view:",
                                url_path="feature-maps"),
        "zero_init": st.Page(PAGES_DIR / "zero_init.py", title=_("zero_init_residual"), icon=":material/exposure_zero:",
                             url_path="zero-init"),
        "predict": st.Page(PAGES_DIR / "predict.py", title=_("Predict"), icon=":material/label:", url_path="predict"),
    }
