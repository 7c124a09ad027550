"""Widgets whose options, range or meaning depend on something else (the model, the picture,
the layer, the checkpoint's classes): each shows the value the page uses.

Call one of these just before making the widget, with its key, and make the widget with that
key and no ``index=``/``value=``/``default=``: the function puts a valid value in the widget's
state and returns it, so the page uses what the widget shows. Two things go stale otherwise:

- The stored value may no longer be an option or in range (a 3-class checkpoint has no 4th
  class, a smaller map no row 30). Streamlit then falls back to the widget's first option or
  raises (a slider), not to the value the page means.
- The browser keeps the label it last showed until the server sends it a value. A value whose
  label changed (rank 1 is now another class; the sidebar switched the language, and a radio
  then showed no option chosen) or a widget drawn again after a run that did not draw it
  would read one value while the page uses another. Setting the state sends the value: it is
  set whenever its label differs from the one last sent.

`app.py` calls `whole_run_started` first in every whole run and marks one that ends early: after
such a run, every kept value is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import streamlit as st

from explorer.runtime.i18n import LANGUAGES, _, in_language

T = TypeVar("T")
SENT = "widget_labels"  # session state: per widget key, (context, label) the browser was last sent or shown
ADOPTED = "adopted_widget_values"  # session state: the keys whose value came from outside the page
WHOLE_RUN = "whole_run"  # session state: this session's `WholeRun`
_NOTHING = object()
_RESEND = object()  # a label no widget shows: its value is sent again


def adopt(key: str, value: object) -> None:
    """Give the widget ``key`` a value chosen elsewhere (the teacher's, in class mode) before the page runs.

    The page keeps it for the context it meets next (the teacher's layer and channel arrive
    together), where a value of its own would start that new context at its default.
    """
    st.session_state[key] = value
    st.session_state.setdefault(ADOPTED, set()).add(key)


def take_adopted(key: str) -> bool:
    """Whether ``key`` holds an adopted value not yet used; from then on it is the reader's own."""
    adopted = st.session_state.get(ADOPTED)
    if adopted and key in adopted:
        adopted.discard(key)
        return True
    return False


def _send(key: str, value: object, label: Hashable, context: Hashable) -> None:
    """Put ``value`` in the widget's state unless the browser already shows it for ``context``."""
    sent: dict = st.session_state.setdefault(SENT, {})
    if st.session_state.get(key, _NOTHING) != value or sent.get(key) != (context, label):
        st.session_state[key] = value  # a value set here reaches the browser with the widget
    sent[key] = (context, label)


def _kept(key: str, context: Hashable) -> object:
    """The widget's stored value, or ``_NOTHING`` when there is none or it was chosen for another
    context (unless it was adopted for this one)."""
    if take_adopted(key):
        return st.session_state.get(key, _NOTHING)
    sent = st.session_state.get(SENT, {}).get(key)
    if sent is not None and sent[0] != context:
        return _NOTHING
    return st.session_state.get(key, _NOTHING)


@dataclass
class WholeRun:
    """This session's marks of its whole runs. Mutable on purpose: after `st.stop` no st call
    works, session state included, so the run's end is marked on this object itself."""

    stopped: bool = False  # the last whole run ended early: st.stop, or an error
    uploaders: set[str] = field(default_factory=set)  # every file uploader's key
    drawn: set[str] = field(default_factory=set)  # the uploaders drawn since this whole run began


def whole_run_started(is_setting: Callable[[str], bool]) -> WholeRun:
    """Call first in every whole run; set ``stopped`` on what it returns where the run ends early.

    After such a run the widgets it did not draw come back in the browser at their own defaults,
    while the session kept their values: Streamlit sends a value only with a widget whose state
    the script set (a run interrupted by a newer one is no such end). So each kept setting
    (``is_setting``) is set again, each value these functions keep is sent again, and an upload,
    which no script can send, is forgotten where the browser forgot it.
    """
    run = st.session_state.setdefault(WHOLE_RUN, WholeRun())
    if run.stopped:
        for key in [key for key in st.session_state if isinstance(key, str) and is_setting(key)]:
            st.session_state[key] = st.session_state[key]
        sent = st.session_state.get(SENT, {})
        st.session_state[SENT] = {key: (context, _RESEND) for key, (context, _label) in sent.items()}
        for key in run.uploaders - run.drawn:
            st.session_state.pop(key, None)
    run.stopped = False
    run.drawn.clear()
    return run


def uploader_drawn(key: str) -> None:
    """Call just before drawing the file uploader ``key``."""
    run = st.session_state.setdefault(WHOLE_RUN, WholeRun())
    run.uploaders.add(key)
    run.drawn.add(key)


def valid_choice(key: str, options: Iterable[T], default: T | None = None, *, label: Callable[[T], str] = str,
                 context: Hashable = None, renamed: Mapping[object, T] | None = None) -> T:
    """The option the selectbox or radio ``key`` shows and the page uses this run.

    Its stored value while it is among ``options`` and ``context`` (what its meaning depends
    on: the picture, the layer) is the one it was chosen for; else ``default`` (the first
    option when ``default`` is None or not an option). ``label`` is the widget's
    ``format_func``. ``renamed`` maps values the widget may hold under an old name (a tab's
    label in the other language) to the option each is now. ValueError when there are no options.
    """
    options = list(options)
    if not options:
        raise ValueError(f"{key}: no options to choose from")
    stored = _kept(key, context)
    if renamed and isinstance(stored, Hashable):
        stored = renamed.get(stored, stored)
    if stored is _NOTHING or stored not in options:
        stored = default if default is not None and default in options else options[0]
    _send(key, stored, label(stored), context)
    return stored


def valid_choices(key: str, options: Iterable[T], default: Sequence[T] = (), *, label: Callable[[T], str] = str,
                  context: Hashable = None) -> list[T]:
    """The options the multiselect ``key`` shows and the page uses this run: its stored ones
    that are still options (for the same ``context``), else those of ``default`` that are."""
    options = list(options)
    stored = _kept(key, context)
    if stored is _NOTHING or not isinstance(stored, (list, tuple)):
        stored = default
    chosen = [value for value in stored if value in options]
    _send(key, chosen, tuple(label(value) for value in chosen), context)
    return chosen


def clamped_number(key: str, low: T, high: T, default: T, *, context: Hashable = None) -> T:
    """The number the number_input or slider ``key`` shows and the page uses this run: its stored
    one (for the same ``context``), else ``default``, moved into ``low`` … ``high``.

    ValueError when ``low`` > ``high``.
    """
    if low > high:
        raise ValueError(f"{key}: an empty range {low} … {high}")
    stored = _kept(key, context)
    value = stored if isinstance(stored, (int, float)) and not isinstance(stored, bool) else default
    value = type(default)(min(max(value, low), high))
    _send(key, value, (value, low, high), context)  # a slider is made anew for a new range: send it then too
    return value


def in_every_language(messages: Iterable[str]) -> dict[str, str]:
    """Each message as every language says it, mapped to how this run's language says it: for
    `valid_choice`'s ``renamed`` where a widget holds the label it shows (`st.tabs`), so that
    the choice survives a switch of language."""
    messages = list(messages)
    now = {message: _(message) for message in messages}
    renamed: dict[str, str] = {}
    for code in LANGUAGES:
        with in_language(code):
            renamed.update({_(message): now[message] for message in messages})
    return renamed
