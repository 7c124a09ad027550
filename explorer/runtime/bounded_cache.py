"""A least-recently-used store bounded by the bytes of what it holds: one session's private
models, and the class-wide store of finished results (`explorer.studies.shared_results`)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class BytesBoundedCache(Generic[T]):
    """Values by key within ``budget_bytes``, least recently used out first.

    With ``keep_newest`` the value stored last always stays, even alone over the budget: what a
    page shows now must not be computed again on its next rerun. Without it, a value larger
    than the whole budget is not kept at all. Not thread-safe: a session's script thread owns
    one, or its owner holds a lock around it.
    """

    def __init__(self, budget_bytes: int, keep_newest: bool = True) -> None:
        self.budget_bytes = budget_bytes
        self.keep_newest = keep_newest
        self._entries: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> T | None:
        """The value stored for ``key`` (now the most recently used), or None."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key][0]

    def put(self, key: Hashable, value: T, size_bytes: int) -> None:
        """Store ``value``; then the least recently used go until the rest fits the budget."""
        if not self.keep_newest and size_bytes > self.budget_bytes:
            return
        old = self._entries.pop(key, None)
        self._bytes += size_bytes - (old[1] if old else 0)
        self._entries[key] = (value, size_bytes)
        while len(self._entries) > 1 and self._bytes > self.budget_bytes:
            _key, (_value, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stored_bytes(self) -> int:
        return self._bytes
