"""One session's private models: bounded by bytes, least recently used out, the newest always kept."""

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
