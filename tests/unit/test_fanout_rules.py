"""Fan-out rules without servers: the bounded merge of a rebuild, and what an account
event asks of its followers' feeds."""

from __future__ import annotations

import random

import pytest

from services.fanout.domain import NewestEntries, account_work, merge_newest


def test_the_bounded_merge_keeps_exactly_the_newest_cap_entries_and_never_more():
    rng = random.Random(7)
    offered = [(str(n).encode(), float(rng.randrange(500))) for n in range(5000)]
    newest: NewestEntries[int] = NewestEntries(40)
    for source, (member, score) in enumerate(offered):
        newest.offer(member, score, source)
        assert len(newest.newest()) <= 40
    kept = newest.newest()
    assert [(m, s) for m, s, _ in kept] == merge_newest(offered, 40)
    assert all(offered[source][0] == member for member, _, source in kept)


def test_the_floor_is_the_oldest_kept_once_full_and_nothing_below_it_gets_in():
    newest: NewestEntries[str] = NewestEntries(2)
    newest.offer(b"1", 10.0, "a")
    assert newest.floor() is None  # not full: anything still gets in
    newest.offer(b"2", 30.0, "a")
    assert newest.floor() == 10.0
    newest.offer(b"3", 5.0, "b")  # older than everything kept
    newest.offer(b"4", 10.0, "b")  # same score, higher id: newer in feed order
    assert newest.newest() == [(b"2", 30.0, "a"), (b"4", 10.0, "b")]
    newest.offer(b"2", 30.0, "a")  # offered twice: kept once
    assert [m for m, _, _ in newest.newest()] == [b"2", b"4"]


@pytest.mark.parametrize(
    ("suspended", "change", "flipped", "work"),
    [
        (True, "suspended", True, "remove"),
        (True, "suspended", False, "remove"),  # redelivered: swept again
        (False, "unsuspended", True, "restore"),
        (False, "unsuspended", False, "restore"),  # redelivered: copied back again
        (False, "created", False, None),
        (False, "created", True, "restore"),  # suspended state recorded from an older event
    ],
)
def test_an_account_event_asks_its_feed_work_whether_new_or_redelivered(
    suspended, change, flipped, work
):
    assert account_work(suspended, change, flipped) == work
