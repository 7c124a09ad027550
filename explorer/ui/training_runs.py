"""A training section's buttons and the class run behind them (the zero_init page's twins and
degradation study): train, stop waiting, re-run with a new seed."""

from __future__ import annotations

import secrets
from collections.abc import Hashable, Sequence

import streamlit as st

from explorer.runtime.memory import DoesNotFit
from explorer.runtime.i18n import _
from explorer.runtime.progress import RunStopped
from explorer.studies.training import TrainingRun, TrainStep, curves_bytes
from explorer.studies.class_time import TrainingSettings
from explorer.ui.choices import take_adopted
from explorer.ui.class_runs import class_results, computed_ago, follow_shared, stop_following


SETTINGS_FIELDS = ("steps", "batch", "size")  # the widgets a study's settings fill: {prefix}_steps, …


def new_seed(key: str, seed_key: str) -> None:
    """The re-run button's callback: a fresh seed (not from torch's RNG) in ``seed_key``, and start at once."""
    st.session_state[seed_key] = secrets.randbelow(2**31 - 1)
    st.session_state[f"{key}_again"] = True


def seed_settings(prefix: str, settings: TrainingSettings, basis: Hashable, fields: Sequence[str] = SETTINGS_FIELDS) -> None:
    """Start the widgets ``{prefix}_steps``, ``{prefix}_batch`` and ``{prefix}_size`` (those in ``fields``)
    at ``settings``: when they have no value yet, and whenever what the settings were fitted to
    (``basis``: the model, the depths) changes, so a heavier model opens with lighter settings.
    In between, the reader's own values stay, and so do values adopted from a teacher's view.
    The widgets take their values from here (no ``value=``).
    """
    fitted_for = f"{prefix}_settings_for"
    fresh = st.session_state.get(fitted_for) != basis
    values = {"steps": settings.steps, "batch": settings.batch_size, "size": settings.input_size}
    for name in fields:
        key = f"{prefix}_{name}"
        if key not in st.session_state or (fresh and not take_adopted(key)):
            st.session_state[key] = values[name]
    st.session_state[fitted_for] = basis


def training_section(key: str, request: TrainingRun, button_label: str, seed_key: str,
                     estimate: str | None = None) -> dict[str, list[TrainStep]] | None:
    """Train / Stop / Re-run buttons for ``request`` (widget keys start with ``key``) and, under them,
    ``estimate`` (how long the run will take); the curves to draw, or None before any run.

    The run is the whole class's (`class_results`): a session that asks while it computes
    follows the same run, and a finished run is shown to everyone who picks the same settings,
    with a line saying when it was computed. Stop keeps this session's curves so far (shown
    with a warning). A new seed drawn by the re-run button lives in the page's ``seed_key``
    widget, so the whole page runs again to show it.
    """
    if st.session_state.get(seed_key) != request.seed:  # the re-run button drew a new seed: redraw it all
        st.rerun()
    store, following = class_results(), f"{key}_following"
    # One row that wraps where the page is narrow: fixed columns clipped the re-run button at 1024 px.
    buttons = st.container(horizontal=True, gap="small")
    if buttons.button(button_label, key=f"{key}_train", type="primary") or st.session_state.pop(f"{key}_again", False):
        st.session_state[following] = request
    buttons.button(_("Stop"), key=f"{key}_stop", on_click=stop_following, args=(following,),
                   help=_("Stops your waiting; the run stops when nobody in the class waits for it any more."))
    buttons.button(_("Re-run with a new seed"), key=f"{key}_reseed", on_click=new_seed, args=(key, seed_key),
                   help=_("Everyone with the same settings shares one run; a new seed gives a run of your own."))
    if estimate:
        st.caption(estimate)
    if st.session_state.get(following) == request:
        try:  # a rerun of this page interrupts the wait; it rejoins the same run on its next run
            if store.finished(request) is None:
                request.check_memory()  # here, not in the class's worker, so a refusal is in this reader's language
            follow_shared(store, request, lambda run: request.train(run.report), curves_bytes,
                          _("Waiting for the run…"), slot=f"{following}_run")
        except (DoesNotFit, RunStopped) as error:
            st.error(str(error))
        st.session_state.pop(following, None)
    finished = store.finished(request)
    if finished is not None:
        st.caption(_("Training curves {computed}: everyone with these settings sees this run.").format(
            computed=computed_ago(finished)))
        return finished.value
    stopped_key, stopped_curves = st.session_state.get(f"{following}_stopped", (None, None))
    if stopped_key == request:
        st.warning(_("Stopped early: the curves show the steps that ran."))
        return stopped_curves
    return None

