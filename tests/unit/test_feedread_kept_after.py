"""A range read after a cursor keeps exactly the entries strictly after it, in order: the
quick path (only the cursor's millisecond compared) against the rule itself."""

from __future__ import annotations

import random

import pytest

from services.feedread.domain import Position, comes_after
from services.feedread.store import _kept_after


def newest_first_range(rng: random.Random, top: int) -> list[tuple[int, bytes]]:
    """A source's entries from `top` down, newest first, with ties in a millisecond."""
    entries = {
        (top - rng.choice((0, 0, 0, 1, 2, 5, 9)), str(rng.randint(100, 999)).encode())
        for _ in range(rng.randint(0, 30))
    }
    return sorted(entries, reverse=True)


@pytest.mark.parametrize("seed", range(300))
def test_kept_entries_are_those_strictly_after_the_cursor(seed):
    rng = random.Random(seed)
    score = 1_000_000
    raw = newest_first_range(rng, score)
    cursor = Position(score, rng.randint(100, 999))
    count = rng.randint(1, 25)
    extra = rng.choice((0, 2, 8))
    expected = [(s, m) for s, m in raw if comes_after(m, s, cursor)][:count]
    kept, short = _kept_after(raw, cursor, count, extra)
    assert kept == expected
    assert short == (len(expected) < count and len(raw) == count + extra)
