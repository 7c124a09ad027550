"""The one shape of progress report for every long step: a download, a measurement, a training run.

A long step takes a `Progress` and calls ``progress(fraction, text, partial)`` as it goes:

* ``fraction`` of the whole step done, in [0, 1];
* ``text``, what runs now: a sentence, or a function that makes it when shown. A class's
  shared run computes in a worker thread, in no session's language, and each session that
  follows it reads the text in its own language (`shown`);
* ``partial``, what the step has so far (a training run's curves), for a reader who stops early.

A reader stops the step by raising `RunStopped` from the call. An exception leaves every
level of a nested loop at once (a training step, inside a model, inside a run of several),
where a returned "stop" flag would have to be checked and passed up by each level, and a
reader that only draws a bar has nothing to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from explorer.runtime.i18n import N_, _

Text = str | Callable[[], str]  # a sentence, or a function that says it in the reader's language


class Progress(Protocol):
    """What a long step reports to: ``progress(fraction, text, partial)``; may raise `RunStopped`."""

    def __call__(self, fraction: float, text: Text = "", partial: object = None) -> None: ...


class RunStopped(RuntimeError):
    """A run ended early because no session was waiting for it any more."""

    MESSAGE = N_("Stopped: nobody was waiting for this result any more.")

    def __str__(self) -> str:  # raised in a worker thread, read by a session: said when read
        return _(self.MESSAGE)


def shown(text: Text) -> str:
    """The text, made now (in the current language) if it is a function."""
    return text() if callable(text) else text


def no_progress(fraction: float, text: Text = "", partial: object = None) -> None:
    """A `Progress` nobody reads."""


def part_of(progress: Progress, index: int, count: int) -> Progress:
    """The progress of the ``index``-th of ``count`` equal parts of a longer step (one model of several)."""
    def report(fraction: float, text: Text = "", partial: object = None) -> None:
        progress((index + fraction) / count, text, partial)
    return report
