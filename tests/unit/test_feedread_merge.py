"""The feed merge (services/feedread/merge.py) on in-memory sorted sets: rounds after a
position return the newest entries of the union, bounded per source, and paging through
them skips and repeats nothing while entries come and go between reads."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from services.feedread import merge
from services.feedread.domain import Position, comes_after
from services.feedread.merge import Entry, Newest, newest_after


class FakeSources:
    """Sorted sets in memory, read the way the store reads Redis (by position, never by
    offset); `between_reads` runs before every read, as another writer would."""

    def __init__(self, sets: dict[str, set[Entry]]) -> None:
        self.sets = sets
        self.between_reads = lambda: None
        self.entries_read = 0
        self.largest_call = 0
        self.lowest_read: dict[str, Entry] = {}
        self.position: Entry | None = None  # where the latest read started

    async def read(
        self, keys: Sequence[str], after: Position | None, count: int, floor: int
    ) -> list[list[Entry]]:
        if after is not None:
            self.position = (after.score, after.member())
        self.between_reads()
        self.largest_call = max(self.largest_call, len(keys))
        found = []
        for key in keys:
            newest = sorted(self.sets[key], reverse=True)
            kept = [(s, m) for s, m in newest if s >= floor and comes_after(m, s, after)][:count]
            # Read to here; a short read went to the end (the floor).
            lowest = kept[-1] if len(kept) == count else (floor, b"")
            self.lowest_read[key] = min(lowest, self.lowest_read.get(key, lowest))
            self.entries_read += len(kept)
            found.append(kept)
        return found


def entry(score: int, post_id: int) -> Entry:
    return (score, str(post_id).encode())


async def page_through(sources: FakeSources, count: int, floor: int = 0) -> list[Entry]:
    """Every entry, round after round, each starting strictly after the last one served."""
    served: list[Entry] = []
    after = None
    for _ in range(10_000):
        found, exhausted = await newest_after(sources.read, list(sources.sets), after, count, floor)
        served.extend(found)
        if found:
            after = Position(found[-1][0], int(found[-1][1]))
        if exhausted:
            return served
    raise AssertionError("never exhausted")


def random_sets(rng: random.Random, sources: int, per_source: int) -> dict[str, set[Entry]]:
    post_ids = iter(rng.sample(range(10**17, 10**18), sources * per_source))
    return {
        f"s{n}": {entry(rng.randrange(1, 500), next(post_ids)) for _ in range(per_source)}
        for n in range(sources)
    }


def test_the_bounded_heap_keeps_the_newest_distinct_entries():
    newest = Newest(3)
    for item in [entry(5, 1), entry(9, 2), entry(9, 2), entry(1, 3), entry(7, 4), entry(8, 5)]:
        newest.offer(item)
    assert newest.newest_first() == [entry(9, 2), entry(8, 5), entry(7, 4)]


@pytest.mark.parametrize(("sources", "count"), [(1, 25), (3, 7), (400, 25), (1200, 50)])
async def test_rounds_return_the_union_newest_first_with_duplicates_once(sources, count):
    rng = random.Random(sources)
    sets = random_sets(rng, sources, 3)
    shared = entry(250, 42)  # a post both in the feed and in its author's pulled timeline
    sets["s0"].add(shared)
    sets[f"s{sources - 1}"].add(shared)
    served = await page_through(FakeSources(sets), count)
    assert served == sorted(set().union(*sets.values()), reverse=True)


async def test_entries_below_the_floor_are_not_read():
    sets = {"a": {entry(10, 1), entry(20, 2)}, "b": {entry(5, 3), entry(30, 4)}}
    assert await page_through(FakeSources(sets), 3, floor=10) == [
        entry(30, 4),
        entry(20, 2),
        entry(10, 1),
    ]


async def test_many_sources_cost_one_head_each_and_a_bounded_remainder():
    sets = random_sets(random.Random(7), 2000, 30)
    sources = FakeSources(sets)
    found, exhausted = await newest_after(sources.read, list(sets), None, 25, 0)
    assert found == sorted(set().union(*sets.values()), reverse=True)[:25] and not exhausted
    assert sources.entries_read <= 2000 + 25 * 25  # not 30 (or 100) per source
    assert sources.largest_call <= merge.SOURCES_PER_CALL


@pytest.mark.parametrize(
    ("sources", "per_source", "count"), [(1, 60, 10), (5, 40, 4), (300, 6, 10)]
)
async def test_entries_removed_or_added_between_reads_shift_nothing(sources, per_source, count):
    """Any entry may go at any time; entries arrive below what each source was read to
    (a backfill) and on top (new posts). Every entry present throughout is served once,
    in order; every entry added below the read positions is served too."""
    rng = random.Random(count)
    sets = random_sets(rng, sources, per_source)
    original = set().union(*sets.values())
    removed: set[Entry] = set()
    added: set[Entry] = set()
    fake = FakeSources(sets)
    next_id = iter(range(10**16, 2 * 10**16))

    def interfere() -> None:
        key = rng.choice(list(sets))
        if sets[key] and rng.random() < 0.7:
            gone = rng.choice(sorted(sets[key]))
            sets[key].discard(gone)
            removed.add(gone)
        read_to = [p for p in (fake.lowest_read.get(key), fake.position) if p is not None]
        below = min(read_to, default=None)
        if below is not None and below[0] > 1:
            new = entry(rng.randrange(0, below[0]), next(next_id))
            sets[key].add(new)
            added.add(new)
        sets[key].add(entry(10_000 + rng.randrange(100), next(next_id)))  # on top

    fake.between_reads = interfere
    served = await page_through(fake, count)
    assert served == sorted(set(served), reverse=True)  # in order, none twice
    assert (original - removed) | (added - removed) <= set(served)
