"""The byte-bounded store behind one session's private models and the class-wide results: least recently used out."""

from __future__ import annotations

from explorer.runtime.bounded_cache import BytesBoundedCache


def test_the_least_recently_used_goes_when_the_bytes_run_over() -> None:
    cache = BytesBoundedCache(budget_bytes=10)
    cache.put("a", "A", 4)
    cache.put("b", "B", 4)
    assert cache.get("a") == "A"  # used now: "b" is the least recently used
    cache.put("c", "C", 4)
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True) and cache.stored_bytes == 8


def test_the_newest_stays_even_alone_over_the_budget() -> None:
    cache = BytesBoundedCache(budget_bytes=10)
    cache.put("a", "A", 4)
    cache.put("huge", "H", 11)
    assert len(cache) == 1 and cache.get("huge") == "H" and cache.get("a") is None


def test_without_keep_newest_a_value_over_the_whole_budget_is_not_kept() -> None:
    """The class-wide store hands such a result to its waiters and keeps what it had."""
    cache = BytesBoundedCache(budget_bytes=10, keep_newest=False)
    cache.put("a", "A", 4)
    cache.put("huge", "H", 11)
    assert cache.get("huge") is None and cache.get("a") == "A" and cache.stored_bytes == 4
    cache.put("a", "A2", 6)  # stored again under its key: counted once
    assert cache.get("a") == "A2" and cache.stored_bytes == 6 and len(cache) == 1
