"""The app in English or 简体中文: gettext catalogs, read with Babel, one per language.

Strings for people are marked in code: `_()` where they are shown, `N_()` where they are
defined at import time (a module constant, a field's label) and then shown through `_()`.
English is the source text; the Chinese catalog is ``locale/zh_CN/LC_MESSAGES/explorer.po``,
read once per process from the ``.po`` itself (no compiled ``.mo`` to fall out of date).
A string the catalog lacks shows in English; a test keeps that from happening.

Which language: while a Streamlit script runs, the session's choice (the sidebar switch,
``?lang=zh``, read through the UI layer's `read_session_language_with`); elsewhere (the CLI, tests, a class-shared computation in a worker thread)
English, unless `in_language` says otherwise. Shared results therefore hold numbers, not
sentences: a sentence is made where it is shown, in the reader's language.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = {"en": "English", "zh": "简体中文"}  # URL value -> the language's own name
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"  # the session state and URL key of the choice
LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
CATALOGS = {"zh": LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "explorer.po"}

_chosen: ContextVar[str | None] = ContextVar("explorer_language", default=None)


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalog as gettext translations (English: the source text itself)."""
    path = CATALOGS.get(language)
    if path is None:
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language() -> str:
    """The language to speak now (see the module's docstring)."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    asked = _session_language() if _session_language is not None else None
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE


# Where a running app keeps each session's choice: set once, at import, by the layer that
# knows Streamlit (`explorer.ui.picker`), so this layer never imports it. Returns None outside
# a session's script thread.
_session_language: Callable[[], str | None] | None = None


def read_session_language_with(reader: Callable[[], str | None]) -> None:
    """Let `language` ask ``reader`` for the session's choice (the UI layer calls this once)."""
    global _session_language
    _session_language = reader


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(language()).gettext(message)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark only"
    """Mark ``message`` for the catalog without translating it yet: `_()` does that when it is shown."""
    return message


@contextmanager
def in_language(code: str) -> Iterator[None]:
    """Speak ``code`` in this context (tests; code outside a Streamlit session)."""
    token = _chosen.set(code)
    try:
        yield
    finally:
        _chosen.reset(token)
