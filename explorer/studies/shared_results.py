"""Heavy results computed once for a whole class: a server-wide store with in-flight sharing.

When thirty students press *Train both twins* within seconds, the runs are identical (same
spec, seed, steps, batch, learning rate: the results are deterministic), so one run serves
all of them. `SharedResults` keys each result by everything that determines it and:

* runs each key at most once at a time, in a worker thread of its own: a second session that
  asks while it computes *joins* it, follows the same progress and gets the same result;
* lets a session stop *its own waiting* (`leave`); the run itself stops only when nobody is
  waiting any more (its ``report`` then raises `RunStopped` and the computation ends early);
* keeps finished results, least recently used first out, within a budget of bytes;
* hands a failure to every waiter and stores nothing for it (nor for a stopped run).

Nothing here knows Streamlit: `explorer.ui` keeps the server's stores and draws the
progress; uploads never go in (they stay in their session's state). A run's ``report`` is a
`explorer.runtime.progress.Progress`: sessions that follow one run may read different
languages, so its text can be a function that makes it when shown (`SharedRun.shown_text`),
and `RunStopped` says its sentence in the reader's language.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from explorer.runtime.bounded_cache import BytesBoundedCache
from explorer.runtime.progress import Progress, RunStopped, Text, no_progress, shown

T = TypeVar("T")


@dataclass(frozen=True)
class Finished(Generic[T]):
    """A stored result and when and how fast it was computed."""

    value: T
    size_bytes: int
    finished_at: float  # time.time()
    seconds: float  # how long the computation took


class SharedRun(Generic[T]):
    """One computation in flight: its progress, its waiters, and in the end a value or an error."""

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.started_at = time.time()
        self.fraction = 0.0
        self.text: Text = ""
        self.partial: object = None  # what the computation has so far, for a waiter who stops
        self.value: T | None = None
        self.error: BaseException | None = None
        self.waiters = 0
        self._done = threading.Event()
        self._stop = threading.Event()

    def report(self, fraction: float, text: Text = "", partial: object = None) -> None:
        """The computation's `Progress`; raises `RunStopped` once nobody waits any more (the partial
        result it brings is kept first, for a waiter who stopped)."""
        self.fraction, self.text = min(max(fraction, 0.0), 1.0), text
        if partial is not None:
            self.partial = partial
        if self._stop.is_set():
            raise RunStopped(RunStopped.MESSAGE)

    def shown_text(self) -> str:
        """The progress text, made now in the current language if the computation gave a function."""
        return shown(self.text)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def follow(self, on_progress: Progress = no_progress, interval: float = 0.2) -> T:
        """Wait for the value, calling ``on_progress(fraction, text)`` meanwhile (`shown_text`, in the
        follower's language); re-raise a failure."""
        while not self._done.wait(interval):
            on_progress(self.fraction, self.shown_text())
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class SharedResults:
    """Finished results by key within ``budget_bytes``, and the runs computing now."""

    def __init__(self, budget_bytes: int) -> None:
        self._lock = threading.Lock()
        self._finished: BytesBoundedCache[Finished] = BytesBoundedCache(budget_bytes, keep_newest=False)
        self._running: dict[Hashable, SharedRun] = {}
        self.runs_started = 0  # how many computations ever started (tests and benchmarks read it)

    def finished(self, key: Hashable) -> Finished | None:
        """The stored result for ``key`` (now the most recently used), or None."""
        with self._lock:
            return self._finished.get(key)

    def join(self, key: Hashable, compute: Callable[[SharedRun], T], size_of: Callable[[T], int]) -> SharedRun[T]:
        """The run for ``key``: the one in flight, a finished one, or a new one started now.

        The caller counts as a waiter until it calls `leave`. ``compute(run)`` runs in a new
        thread and should call ``run.report`` as it goes (it raises `RunStopped` to end the run early).
        """
        with self._lock:
            run = self._running.get(key)
            if run is not None and run.stopped:
                run = None  # it is winding down for lack of waiters: start afresh
            if run is None:
                finished = self._finished.get(key)
                run = SharedRun(key)
                if finished is not None:  # finished between the caller's look and now
                    run.value, run.fraction = finished.value, 1.0
                    run._done.set()
                else:
                    self._running[key] = run
                    self.runs_started += 1
                    threading.Thread(target=self._execute, args=(run, compute, size_of), daemon=True,
                                     name=f"shared-run-{self.runs_started}").start()
            run.waiters += 1
            return run

    def leave(self, run: SharedRun, grace: float = 0.0) -> None:
        """A waiter is gone; when the last one goes, an unfinished run stops after ``grace`` seconds
        unless someone joins again meanwhile (a session whose page merely reran rejoins at once)."""
        with self._lock:
            run.waiters -= 1
            if run.waiters > 0 or run.done:
                return
        if grace <= 0:
            self._stop_if_alone(run)
        else:
            timer = threading.Timer(grace, self._stop_if_alone, args=(run,))
            timer.daemon = True
            timer.start()

    def _stop_if_alone(self, run: SharedRun) -> None:
        with self._lock:
            if run.waiters <= 0 and not run.done:
                run._stop.set()

    def _execute(self, run: SharedRun[T], compute: Callable[[SharedRun], T], size_of: Callable[[T], int]) -> None:
        start = time.perf_counter()
        try:
            value = compute(run)
            if run.stopped:
                raise RunStopped(RunStopped.MESSAGE)
            run.value = value
            self._store(run.key, Finished(value, size_of(value), time.time(), time.perf_counter() - start))
        except BaseException as error:  # every waiter gets it; nothing is stored
            run.error = error
        finally:
            with self._lock:
                if self._running.get(run.key) is run:
                    del self._running[run.key]
            run._done.set()

    def _store(self, key: Hashable, entry: Finished) -> None:
        """Keep ``entry``, least recently used out; one larger than the whole budget is handed to its
        waiters and not kept."""
        with self._lock:
            self._finished.put(key, entry, entry.size_bytes)

    @property
    def stored_bytes(self) -> int:
        return self._finished.stored_bytes

    def __len__(self) -> int:
        return len(self._finished)
