"""Fan-out rules: who receives what, in which chunks. No I/O."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Followers per server-side script call: large enough that the Python client's per-call
# cost is amortised, small enough that one call blocks Redis for only a few milliseconds.
PUSH_CHUNK = 1000
# How many of an account's newest posts a new follower receives at once.
BACKFILL_POSTS = 50


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    if size < 1:
        raise ValueError("chunk size must be positive")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_newest(entries: Sequence[tuple[bytes, float]], cap: int) -> list[tuple[bytes, float]]:
    """The `cap` newest distinct (post id, score) entries, newest first (a rebuilt feed)."""
    best: dict[bytes, float] = {}
    for member, score in entries:
        best[member] = max(score, best.get(member, score))
    ordered = sorted(best.items(), key=lambda e: (e[1], e[0]), reverse=True)
    return ordered[:cap]
