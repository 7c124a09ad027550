"""What one session keeps for itself: results too large or too private to share with the class."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


def remembered(slot: str, key: Hashable, compute: Callable[[], T], max_entries: int = 1) -> T:
    """``compute()``, kept in this session's state under ``slot`` for ``key``.

    For results too large or too private to share between sessions (captured maps, one
    user's predictions): a rerun with the same key reuses them; beyond ``max_entries``
    keys the slot starts afresh. An exception from ``compute`` stores nothing.
    """
    memo: dict = st.session_state.setdefault(slot, {})
    if key not in memo:
        value = compute()
        if len(memo) >= max_entries:
            memo.clear()
        memo[key] = value
    return memo[key]
