"""Ranges of a pulled timeline answered from its newest entries kept in process
(services.feedread.merge.range_in_window): the same entries a ZRANGE BYSCORE REV LIMIT
would give, or None when the window cannot tell."""

from __future__ import annotations

from services.feedread.merge import Entry, range_in_window

# Newest first, with a tie at 900 (members in descending byte order, as Redis orders them).
WINDOW: list[Entry] = [(1000, b"9"), (950, b"8"), (900, b"7"), (900, b"10"), (850, b"6")]


def zrange(entries: list[Entry], top: int | str, floor: int, count: int) -> list[Entry]:
    """What Redis gives for the whole source."""
    limit = float("inf") if top == "+inf" else int(top)
    return [e for e in entries if floor <= e[0] <= limit][:count]


def test_from_the_top_and_from_a_score_as_redis_reads_them():
    for top in ("+inf", 1000, 960, 950, 900, 899, 100):
        for count in (1, 2, 3, 6):
            assert range_in_window(WINDOW, True, top, 0, count) == zrange(WINDOW, top, 0, count)


def test_a_score_tied_at_the_top_is_included_with_all_its_members():
    assert range_in_window(WINDOW, False, 900, 0, 2) == [(900, b"7"), (900, b"10")]


def test_the_floor_cuts_the_range_and_ends_it_inside_the_window():
    assert range_in_window(WINDOW, False, "+inf", 901, 3) == [(1000, b"9"), (950, b"8")]
    assert range_in_window(WINDOW, False, "+inf", 901, 10) == [(1000, b"9"), (950, b"8")]
    assert range_in_window(WINDOW, False, "+inf", 800, 10) is None  # the floor is below it


def test_a_range_running_past_a_partial_window_is_not_answered():
    assert range_in_window(WINDOW, False, 950, 0, 4) == zrange(WINDOW, 950, 0, 4)
    assert range_in_window(WINDOW, False, 950, 0, 5) is None  # the source may hold more
    assert range_in_window(WINDOW, False, 899, 0, 2) is None


def test_a_whole_window_answers_any_range_even_an_empty_one():
    assert range_in_window(WINDOW, True, 950, 0, 10) == zrange(WINDOW, 950, 0, 10)
    assert range_in_window(WINDOW, True, 100, 0, 10) == []
    assert range_in_window([], True, "+inf", 0, 10) == []
