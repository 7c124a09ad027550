"""The class-wide store: one run per key however many sessions ask, progress for every waiter,
errors for every waiter, stop only when nobody waits, and a byte budget."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from explorer.model.presets import cifar_resnet
from explorer.runtime.progress import RunStopped
from explorer.studies.shared_results import Finished, SharedResults
from explorer.studies.training import train_models
from explorer.studies.zero_init import twins
from tests.conftest import run_together


def ask_together(store: SharedResults, keys: list, compute, size_of=lambda value: 1):
    """Every key asked from its own thread at once; each thread's value, the progress it saw and its error."""
    def ask(key) -> tuple:
        seen: list[float] = []
        run = store.join(key, compute, size_of)
        try:
            return run.follow(lambda fraction, text="", partial=None: seen.append(fraction), interval=0.01), seen, None
        except Exception as error:  # noqa: BLE001 - the test looks at it
            return None, seen, error
        finally:
            store.leave(run)

    values, seen, errors = zip(*run_together(*(partial(ask, key) for key in keys)))
    return list(values), list(seen), list(errors)


def slow_count(steps: int = 20):
    calls = []

    def compute(run):
        calls.append(run.key)
        for step in range(steps):
            time.sleep(0.01)
            run.report((step + 1) / steps, f"step {step + 1}")
        return ("result", run.key)

    return compute, calls


@pytest.mark.parametrize("sessions", [2, 5])
def test_sessions_asking_for_the_same_run_share_one(sessions: int) -> None:
    store = SharedResults(budget_bytes=1000)
    compute, calls = slow_count()
    values, seen, errors = ask_together(store, ["twins"] * sessions, compute)
    assert calls == ["twins"] and store.runs_started == 1
    assert values == [("result", "twins")] * sessions and errors == [None] * sessions
    assert all(any(0 < f < 1 for f in s) for s in seen)  # every waiter saw the run progress
    assert store.finished("twins").value == ("result", "twins")


def test_different_parameters_are_separate_runs() -> None:
    store = SharedResults(budget_bytes=1000)
    compute, calls = slow_count()
    values, _, _ = ask_together(store, ["a", "b", "a", "b"], compute)
    assert sorted(calls) == ["a", "b"]
    assert values == [("result", k) for k in ["a", "b", "a", "b"]]


def test_a_failing_run_reaches_every_waiter_and_is_not_stored() -> None:
    store = SharedResults(budget_bytes=1000)
    calls = []

    def compute(run):
        calls.append(1)
        time.sleep(0.05)
        raise ValueError("does not fit in memory")

    _, _, errors = ask_together(store, ["big"] * 4, compute)
    assert len(calls) == 1 and all(isinstance(e, ValueError) and "does not fit" in str(e) for e in errors)
    assert store.finished("big") is None


def test_a_run_stops_only_when_its_last_waiter_leaves() -> None:
    store = SharedResults(budget_bytes=1000)
    release = threading.Event()

    def compute(run):
        while True:
            run.report(0.5, partial="so far")
            release.wait(0.01)

    first = store.join("train", compute, lambda v: 1)
    second = store.join("train", compute, lambda v: 1)
    store.leave(first)  # one student presses stop
    time.sleep(0.1)
    assert not second.done and not second.stopped
    store.leave(second)  # the last one too
    with pytest.raises(RunStopped):
        second.follow(interval=0.01)
    assert store.finished("train") is None and second.partial == "so far"  # kept for a stop button


def test_a_page_that_reruns_rejoins_within_the_grace_period() -> None:
    store = SharedResults(budget_bytes=1000)
    compute, _ = slow_count(30)
    run = store.join("k", compute, lambda v: 1)
    store.leave(run, grace=1.0)  # the page reran: its script was interrupted
    again = store.join("k", compute, lambda v: 1)
    assert again is run
    assert again.follow(interval=0.01) == ("result", "k")
    store.leave(again)


def test_finished_results_stay_within_the_byte_budget_least_recently_used_out() -> None:
    store = SharedResults(budget_bytes=10)
    for key, size in [("a", 4), ("b", 4), ("huge", 11)]:
        run = store.join(key, lambda run: key, lambda value, size=size: size)
        run.follow(interval=0.01)
        store.leave(run)
    assert store.finished("a") is not None  # used now: "b" is the least recently used
    run = store.join("c", lambda run: "c", lambda value: 4)
    run.follow(interval=0.01)
    assert store.finished("b") is None and store.finished("huge") is None
    assert isinstance(store.finished("c"), Finished) and store.stored_bytes == 8


def test_five_sessions_training_the_twins_get_identical_curves_from_one_run() -> None:
    store = SharedResults(budget_bytes=2**20)
    specs = twins(cifar_resnet(20))

    def train(run):
        return train_models(specs, steps=3, batch_size=8, input_size=16, progress=run.report)

    values, seen, errors = ask_together(store, [("twins", 3)] * 5, train, size_of=lambda v: 1)
    assert errors == [None] * 5 and store.runs_started == 1
    first = values[0]
    assert all(v is first for v in values) and {len(h) for h in first.values()} == {3}
