"""The newest entries of many sorted sets after a position, without reading them whole.

A round asks every source for what lies strictly after a (score, member) position, never
for an offset: an entry removed from or added to a source between two reads cannot shift
the next read, so nothing is skipped or repeated (offsets did both).

With many sources (a returning user merging thousands of timelines), a round costs one
entry per source plus a bounded remainder: it first reads each source's head (in batches
of SOURCES_PER_CALL), keeping the `count` newest distinct heads in a bounded heap. The
`count` newest entries of the union all lie at or above the oldest of those heads, and
only the sources holding one of them can have any: only those are read further, at most
`count` entries each. Memory stays O(count² + SOURCES_PER_CALL), whatever the follows.

Entries are (score, member): Python orders those tuples like Redis orders a sorted set
(score, then member bytes), so the largest tuple is the newest entry.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Awaitable, Callable, Iterator, Sequence

from services.feedread.domain import Position

Entry = tuple[int, bytes]
# For each key, its first `count` entries strictly after `after` (None: from the top)
# with a score of at least `floor`, newest first.
ReadAfter = Callable[[Sequence[str], Position | None, int, int], Awaitable[list[list[Entry]]]]

# Below this many entries (sources x count) every source is read at once: one round
# trip for the common page (a feed and a few pulled timelines).
DIRECT_READ_ENTRIES = 500
# Sources read in one pipeline: bounds the memory and the latency of one round trip.
SOURCES_PER_CALL = 500


class Newest:
    """The `size` newest distinct entries offered so far (a bounded min-heap)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[Entry] = []
        self._kept: set[Entry] = set()

    def offer(self, entry: Entry) -> None:
        if entry in self._kept:  # the same post in the feed and in a pulled timeline
            return
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            self._kept.discard(heapq.heappushpop(self._heap, entry))
        else:
            return
        self._kept.add(entry)

    def __contains__(self, entry: Entry) -> bool:
        return entry in self._kept

    def full(self) -> bool:
        return len(self._heap) == self.size

    def oldest(self) -> Entry:
        return self._heap[0]

    def newest_first(self) -> list[Entry]:
        return sorted(self._heap, reverse=True)


async def newest_after(
    read: ReadAfter, keys: Sequence[str], after: Position | None, count: int, floor: int
) -> tuple[list[Entry], bool]:
    """The `count` newest distinct entries of the union of `keys` strictly after `after`
    with a score of at least `floor`, newest first, and whether the sources hold nothing
    more after them. Fewer than `count` with more to come means entries were removed
    while the round read: the next round goes on from the last one."""
    if len(keys) * count <= DIRECT_READ_ENTRIES:
        candidates, threshold = list(keys), None
    else:
        candidates, threshold = await _candidates(read, keys, after, count, floor)
    lowest = threshold[0] if threshold else floor
    found: list[Entry] = []  # the `count` newest distinct entries so far, newest first
    for batch in _batches(candidates):
        # Each source reads newest first: a lazy merge stops after `count` distinct ones.
        merged = heapq.merge(found, *await read(batch, after, count, lowest), reverse=True)
        found = _distinct(merged, count)
    if threshold is None:
        return found, len(found) < count
    # Below the threshold, in its millisecond, lie entries of sources not read: not ours.
    return [entry for entry in found if entry >= threshold], False


async def _candidates(
    read: ReadAfter, keys: Sequence[str], after: Position | None, count: int, floor: int
) -> tuple[list[str], Entry | None]:
    """The sources that can hold one of the `count` newest entries after `after`, and the
    oldest such an entry can be (None: any, down to the floor)."""
    heads = Newest(count)
    sources_of: dict[Entry, list[str]] = {}
    for batch in _batches(keys):
        for key, entries in zip(batch, await read(batch, after, 1, floor), strict=True):
            if entries:
                heads.offer(entries[0])
                if entries[0] in heads:
                    sources_of.setdefault(entries[0], []).append(key)
        sources_of = {head: found for head, found in sources_of.items() if head in heads}
    threshold = heads.oldest() if heads.full() else None
    return [key for found in sources_of.values() for key in found], threshold


def _distinct(newest_first: Iterator[Entry], count: int) -> list[Entry]:
    """The first `count` distinct entries of an ordered stream (a post in the feed and in a
    pulled timeline comes twice, side by side)."""
    found: list[Entry] = []
    for entry in newest_first:
        if not found or entry != found[-1]:
            found.append(entry)
            if len(found) == count:
                break
    return found


def _batches(keys: Sequence[str]) -> list[Sequence[str]]:
    return [keys[i : i + SOURCES_PER_CALL] for i in range(0, len(keys), SOURCES_PER_CALL)]


def range_in_window(
    window: list[Entry], whole: bool, top: int | str, floor: int, count: int
) -> list[Entry] | None:
    """A source's first `count` entries with a score from `top` ('+inf': the newest)
    down to `floor`, newest first, taken from `window` (its newest entries, newest first;
    `whole`: all it holds); None when the window ends before the range does."""
    start = 0 if top == "+inf" else bisect.bisect_left(window, -int(top), key=_minus_score)
    found = window[start : start + count]
    if found and found[-1][0] < floor:  # rarely: entries this old leave feeds
        found = [entry for entry in found if entry[0] >= floor]
    ends_inside = whole or start + count <= len(window) or window[-1][0] < floor
    return found if ends_inside else None


def _minus_score(entry: Entry) -> int:
    return -entry[0]
