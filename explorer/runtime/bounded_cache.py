"""A least-recently-used store bounded by the bytes of what it holds (one session's private models)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class BytesBoundedCache(Generic[T]):
    """Values by key within ``budget_bytes``, least recently used out first.

    The value stored last always stays, even alone over the budget: what a page shows now
    must not be computed again on its next rerun. Not thread-safe: one session's script
    thread uses it (`explorer.ui` keeps one per session).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()

    def get(self, key: Hashable) -> T | None:
        """The value stored for ``key`` (now the most recently used), or None."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key][0]

    def put(self, key: Hashable, value: T, size_bytes: int) -> None:
        """Store ``value``; then the least recently used go until the rest fits the budget."""
        self._entries[key] = (value, size_bytes)
        self._entries.move_to_end(key)
        while len(self._entries) > 1 and self.stored_bytes > self.budget_bytes:
            self._entries.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stored_bytes(self) -> int:
        return sum(size for _value, size in self._entries.values())
