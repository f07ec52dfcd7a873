"""Swing's pacing (a pass never holds a core: the job rests after it per `rest_after`),
and the set-grouped pass giving the pair-by-pair sum of Swing's definition."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime
from itertools import combinations

import pytest
from prometheus_client import CollectorRegistry

from services.insights.swing import (
    ALPHA,
    MAX_ITEMS_PER_USER,
    MAX_USERS_PER_ITEM,
    MIN_COMMON_USERS,
    swing,
    user_weight,
)
from services.insights.swing_job import SwingSchedule, rest_after


def test_a_short_pass_waits_the_interval():
    assert rest_after(pass_s=2.0, interval_s=60.0, rest_per_pass=3.0) == 60.0


def test_a_pass_longer_than_a_third_of_the_interval_rests_three_times_its_length():
    assert rest_after(pass_s=50.0, interval_s=60.0, rest_per_pass=3.0) == 150.0
    # the share of time spent passing is then 50 / (50 + 150): a quarter of one core
    assert 50.0 / (50.0 + rest_after(50.0, 60.0, 3.0)) == 0.25


class Stop(Exception):
    """Ends the schedule's endless loop in a test."""


class FakeTime:
    """A monotonic clock that passes only when a fake pass says so; sleeps are recorded."""

    def __init__(self, sleeps_before_stop: int) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.left = sleeps_before_stop

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.left -= 1
        if not self.left:
            raise Stop


class FakeRefresher:
    """Each pass 'takes' the next of `durations` seconds; a None duration fails."""

    def __init__(self, time: FakeTime, durations: list[float | None]) -> None:
        self.time, self.durations = time, iter(durations)

    async def refresh(self, now: datetime) -> int:
        took = next(self.durations)
        self.time.now += took or 1.0
        if took is None:
            raise RuntimeError("postgres went away")
        return 7


async def test_the_schedule_rests_after_each_pass_by_its_duration_and_exports_it():
    time = FakeTime(sleeps_before_stop=4)
    registry = CollectorRegistry()
    schedule = SwingSchedule(
        FakeRefresher(time, [5.0, 40.0, None, 30.0]), 60.0, registry, 3.0, time.clock, time.sleep
    )
    with pytest.raises(Stop):
        await schedule.run()
    # a failed pass (1 s here) is rested after like any other, not retried at once
    assert time.sleeps == [60.0, 120.0, 60.0, 90.0]
    assert registry.get_sample_value("insights_swing_pass_seconds") == 30.0
    assert registry.get_sample_value("insights_swing_rest_seconds") == 90.0


def _pair_by_pair(items_of_user: dict[int, set[int]]) -> dict[int, dict[int, float]]:
    """Swing as defined: every pair of each account's chosen users, one by one."""
    users_of_item: dict[int, list[int]] = defaultdict(list)
    for user in sorted(items_of_user):
        if len(items_of_user[user]) <= MAX_ITEMS_PER_USER:
            for item in items_of_user[user]:
                users_of_item[item].append(user)
    scores: dict[int, dict[int, float]] = {}
    for i, users in users_of_item.items():
        row: dict[int, float] = defaultdict(float)
        co_users: dict[int, set[int]] = defaultdict(set)
        for u, v in combinations(users[-MAX_USERS_PER_ITEM:], 2):
            common = items_of_user[u] & items_of_user[v]
            if len(common) < 2:
                continue
            w = user_weight(len(items_of_user[u])) * user_weight(len(items_of_user[v]))
            for j in common - {i}:
                row[j] += w / (ALPHA + len(common))
                co_users[j].update((u, v))
        kept = {j: s for j, s in row.items() if len(co_users[j]) >= MIN_COMMON_USERS}
        if kept:
            scores[i] = kept
    return scores


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouping_users_by_item_set_gives_the_pair_by_pair_scores(seed):
    # Many users repeat a few item sets (as a bench's seeded followers do), others are
    # random; one account has more users than the cap and a few users exceed theirs.
    rng = random.Random(seed)
    shapes = [set(rng.sample(range(30), rng.randint(1, 6))) for _ in range(8)]
    table = {u: set(rng.choice(shapes)) for u in range(150)}
    table.update({u: set(rng.sample(range(30), rng.randint(1, 8))) for u in range(150, 300)})
    table.update({u: {0, 1, 2} for u in range(300, 300 + MAX_USERS_PER_ITEM)})
    table.update({u: set(range(MAX_ITEMS_PER_USER + 1)) for u in range(900, 903)})
    expected = _pair_by_pair(table)
    got = swing(table)
    assert got.keys() == expected.keys()
    for i, row in expected.items():
        assert got[i] == pytest.approx(row, rel=1e-12)
