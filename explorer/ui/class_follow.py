"""Class mode's following: which part of a teacher's view travels to the class, and how a
student's page takes it and notices when the student goes their own way.

A view is plain JSON: the page, the pickers' spec tokens and the page's followed widget
values. The teacher's session publishes it after each of its runs; each student's session
polls for it (`explorer.ui.classroom`). Only the widgets listed in `FOLLOWED` travel, and only
settings: an upload never leaves the teacher's session (students are told the teacher uses
their own picture or checkpoint, and keep their own). The language is each reader's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import streamlit as st

from explorer.ui import picker
from explorer.ui.choices import adopt

# Per page: the widget keys (full-match patterns) whose values a follower takes. Buttons and
# uploaders never: Streamlit refuses a value set for them, and uploads stay private.
FOLLOWED: dict[str, tuple[str, ...]] = {
    "home": (),
    "architecture": (r"arch_(level|stage_filter|page|diagram_style|figure_twin|figure_slide|figure_fold|batch|tab)",),
    "compare": (r"cmp_(input|zoo_x|image_open|image_source|sample|rf|third)",
                r"cmp_[ab]_(weights_kind|weights_name|seed|rf_stage|rf_row_\w+|rf_column_\w+)"),
    "feature_maps": (r"fm_(image_source|sample|weights_kind|weights_name|seed|detail|layer|scale|which|topk|page|channel)",
                     r"fm_rf(_stage|_row_\w+|_column_\w+)?"),
    "zero_init": (r"zi_(steps|batch|size|lr|seed|shallow|deep|deg_steps|deg_batch|pre_depth|pre_steps|pre_batch)",),
    "predict": (r"pr_(samples|compare|stage)", r"pr(_b)?_(weights_kind|weights_name|seed|\d+_cam)"),
}
# Per page: the model pickers whose spec tokens travel (`picker.model_picker`'s prefixes).
PICKERS: dict[str, tuple[str, ...]] = {
    "compare": ("cmp_model_a", "cmp_model_b", "cmp_model_c"),
    "predict": ("model", "pr_model_b"),
}
DEFAULT_PICKERS = ("model",)
# Widgets whose one value means "an upload": the follower keeps its own choice, and is told.
OWN_CHOICES = {r"\w+_image_source": "upload", r"\w+_weights_kind": "checkpoint"}
JSON_SCALARS = (str, int, float, bool)


def page_name(page: st.Page) -> str:
    """The name `picker.pages` gives ``page`` (views name pages by it, not by their titles)."""
    return next((name for name, candidate in picker.pages().items() if candidate.url_path == page.url_path), "home")


def _followed(page: str, key: object) -> bool:
    return isinstance(key, str) and any(re.fullmatch(pattern, key) for pattern in FOLLOWED.get(page, ()))


def _plain(value: object) -> object | None:
    """``value`` as JSON holds it (str enums as their text), or None for what cannot travel."""
    if isinstance(value, JSON_SCALARS):
        return value.value if hasattr(value, "value") and isinstance(value.value, JSON_SCALARS) else value
    if isinstance(value, (list, tuple)) and all(isinstance(item, JSON_SCALARS) for item in value):
        return [_plain(item) for item in value]
    return None


def is_setting(page: str, key: object) -> bool:
    """Whether ``key`` holds one of ``page``'s settings: a followed widget or a widget of its model pickers."""
    return _followed(page, key) or (isinstance(key, str) and key.startswith(
        tuple(f"{prefix}_" for prefix in PICKERS.get(page, DEFAULT_PICKERS))))


def current_view(page: str, state: Mapping) -> dict:
    """The view a teacher's session shows now: the page, its pickers' tokens (and the sidebar's
    input size), its followed widgets; ``own`` names what came from an upload and stays."""
    values: dict[str, object] = {}
    for prefix in PICKERS.get(page, DEFAULT_PICKERS) if page != "home" else ():
        for key in (f"{prefix}_token", f"{prefix}_input"):
            if key in state:
                values[key] = state[key]
    own = []
    for key, value in state.items():
        if not _followed(page, key) or (plain := _plain(value)) is None:
            continue
        upload = next((marker for pattern, marker in OWN_CHOICES.items() if re.fullmatch(pattern, key)), None)
        if upload is not None and plain == upload:
            own.append(key)
            continue
        values[key] = plain
    return {"page": page, "values": dict(sorted(values.items())), "own": sorted(own)}


def adopt_view(view: Mapping) -> None:
    """Put ``view``'s values into this session's widgets, before the page (and its pickers) run.

    A picker forgets its widgets, so they re-seed from the teacher's token. Only the
    page's followed keys and picker keys are taken: a view is the teacher's, but it crosses servers.
    """
    page = view.get("page")
    values = view.get("values")
    if page not in FOLLOWED or not isinstance(values, Mapping):
        return
    prefixes = PICKERS.get(page, DEFAULT_PICKERS)
    for prefix in prefixes:
        token = values.get(f"{prefix}_token")
        if isinstance(token, str):  # the same token too: a timer's stale request may have changed the widgets
            picker.choose_token(prefix, token)
        size = values.get(f"{prefix}_input")
        if isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= picker.MAX_INPUT_SIZE:
            st.session_state[f"{prefix}_input"] = size
    for key, value in values.items():
        if _followed(page, key) and _plain(value) is not None:
            adopt(key, value)  # an equal value too: it is the teacher's for the layer (context) that comes with it


def followed_values(page: str, state: Mapping) -> dict:
    """What a follower's own clicks could change: its followed widgets and picker tokens now."""
    return current_view(page, state)["values"]


def own_changes(before: Mapping, after: Mapping) -> list[str]:
    """The keys whose value the reader changed between two snapshots (`followed_values`); a key
    missing from either (a widget not drawn this time) is no change."""
    return sorted(key for key, value in before.items() if key in after and after[key] != value)
