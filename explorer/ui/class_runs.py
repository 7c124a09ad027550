"""Runs the whole class shares (class-wide stores of models and results), and following one's
progress on a page: the bar, the stop button, "computed 2 min ago"."""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st

from explorer.runtime.i18n import _
from explorer.runtime.memory import process_memory
from explorer.studies.shared_results import Finished, SharedResults, SharedRun
from explorer.ui.session_memo import remembered

T = TypeVar("T")


# A waiter whose page reruns (any click) is interrupted and rejoins at once; only a run that
# nobody rejoins within this time stops (a stop button's click, a closed tab).
RERUN_GRACE_S = 3.0
UNKNOWN_MEMORY = 4 * 2**30  # where no limit can be read (not Linux): a small laptop's


def budget_bytes(variable: str, default_share: float) -> int:
    """``variable`` in MiB if set, else ``default_share`` of the memory this process may use (at least
    512 MiB): the cgroup's limit in a pod, else the host's memory (`process_memory`), else 4 GiB."""
    if variable in os.environ:
        return int(os.environ[variable]) * 2**20
    limit = process_memory()
    total = limit.total if limit is not None and limit.total is not None else UNKNOWN_MEMORY
    return max(512 * 2**20, int(total * default_share))


@st.cache_resource
def class_models() -> SharedResults:
    """Models every session shares, by (spec, weights, device); bounded by their bytes
    (``EXPLORER_MODEL_CACHE_MB``, default a quarter of the memory limit), least recently used out."""
    return SharedResults(budget_bytes("EXPLORER_MODEL_CACHE_MB", 0.25))


@st.cache_resource
def class_results() -> SharedResults:
    """Heavy deterministic results every session shares (training runs), bounded by bytes
    (``EXPLORER_RESULTS_CACHE_MB``, default a twentieth of the memory)."""
    return SharedResults(budget_bytes("EXPLORER_RESULTS_CACHE_MB", 0.05))


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
        return run.follow(lambda fraction, text="", partial=None: bar.progress(fraction, text=text or waiting),
                          interval=1.0)
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
