"""Honest timings: warm-ups, several runs, the median and the spread, and one way to round them.

One timing of a forward pass says little. A new model's first calls choose kernels, fill
caches and wake thread pools (a first CUDA call can take a second), and a server shared
with other sessions makes any single run slower. So every time the app shows is the median
of several runs after warm-ups, said with the fastest and the slowest run — "median 12.3 ms
(spread 11.9–14.0 ms over 7 runs)" — and with a note when the runs disagree by more than
`NOISY_SPREAD` of their median. Sentences and tables round a quantity with the same function
(`format_ms`, `format_rate`), so a summary never says 1 where its table says 0.6.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from explorer.runtime.devices import synchronize
from explorer.runtime.i18n import _
from explorer.runtime.progress import Progress, no_progress

NOISY_SPREAD = 0.25  # (slowest − fastest) / median above which a timing gets a note
CUDA_PEAK_LOCK = threading.Lock()  # torch.cuda.reset_peak_memory_stats is process-wide: one measurement at a time


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one piece of work after its warm-ups, in milliseconds."""

    samples: tuple[float, ...]  # one per run, in the order they ran; warm-ups left out
    warmups: int  # runs before these, not counted: the first calls of a new model are slower

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("A timing needs at least one run; got none. Pass repeats >= 1.")

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        """The fastest run."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """The slowest run."""
        return max(self.samples)

    @property
    def spread(self) -> float:
        """(slowest − fastest) / median: 0.1 when the runs lie within 10 % of their median's size."""
        return (self.high - self.low) / self.median if self.median > 0 else 0.0

    @property
    def noisy(self) -> bool:
        """True when the runs disagree by more than `NOISY_SPREAD` of their median."""
        return self.spread > NOISY_SPREAD

    def per_second(self, items: int) -> tuple[float, float, float]:
        """``items`` per second at the median, the slowest and the fastest run: (median, low, high)."""
        return tuple(items / (ms / 1e3) if ms > 0 else float("inf") for ms in (self.median, self.high, self.low))


def time_runs(run: Callable[[], object], device: str | torch.device, warmups: int, repeats: int,
              progress: Progress = no_progress) -> Timing:
    """Call ``run`` ``warmups`` times untimed, then ``repeats`` times between two readings of the
    clock, each after the device has finished its queued work; progress after each call."""
    calls = warmups + repeats
    for warmup in range(warmups):
        run()
        progress((warmup + 1) / calls)
    samples = []
    for repeat in range(repeats):
        synchronize(device)
        start = time.perf_counter_ns()
        run()
        synchronize(device)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        progress((warmups + repeat + 1) / calls)
    return Timing(tuple(samples), warmups)


# ---- one rounding per quantity, in sentences and tables alike --------------------------------


def format_ms(milliseconds: float) -> str:
    """Milliseconds to about three significant digits: "0.512", "5.12", "51.2", "512", "5,120"."""
    for limit, places in ((1, 3), (10, 2), (100, 1)):
        if abs(milliseconds) < limit:
            return f"{milliseconds:.{places}f}"
    return f"{milliseconds:,.0f}"


def format_rate(per_second: float) -> str:
    """Images per second: one decimal below 10 ("0.6", "9.4"), whole numbers above ("18", "1,234")."""
    return f"{per_second:.1f}" if per_second < 9.95 else f"{per_second:,.0f}"


def timing_text(timing: Timing) -> str:
    """ "median 12.3 ms (spread 11.9–14.0 ms over 7 runs)", in the reader's language."""
    if timing.runs == 1:
        return _("{median} ms (one run)").format(median=format_ms(timing.median))
    return _("median {median} ms (spread {low}–{high} ms over {runs} runs)").format(
        median=format_ms(timing.median), low=format_ms(timing.low), high=format_ms(timing.high), runs=timing.runs)


def spread_text(timing: Timing) -> str:
    """The fastest and slowest run, "11.9–14.0", for a table's spread column."""
    return f"{format_ms(timing.low)}–{format_ms(timing.high)}"


def rate_spread_text(timing: Timing, items: int) -> str:
    """Images per second at the slowest and the fastest run, "52–61", for a table's spread column."""
    _median, low, high = timing.per_second(items)
    return f"{format_rate(low)}–{format_rate(high)}"


def noisy_note(what: str, timing: Timing) -> str | None:
    """A warning when ``timing``'s runs disagree by more than `NOISY_SPREAD`; None when they agree."""
    if not timing.noisy:
        return None
    return _("{what}: the runs spread over {low}–{high} ms, {spread:.0%} of their median. Something else used the "
             "device meanwhile (another session, another program): measure again, and trust the median more than "
             "any single run.").format(
        what=what, spread=timing.spread, low=format_ms(timing.low), high=format_ms(timing.high))
