"""The fake-follower rules on the labelled synthetic world (tests/insights_fakefollowers.py):
the goals of the issue, and each rule on a small case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.insights.lockstep import MIN_GROUP, Facts, Follow, detect
from tests.insights_fakefollowers import evaluate, generate

T = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_plain_farms_are_caught_with_the_goals_met():
    scores = evaluate(generate(seed=11))
    assert scores.mcc >= 0.9 and scores.precision >= 0.95
    assert scores.qr_flagged_share <= 0.01


def test_warmed_farms_are_caught_with_the_goals_met():
    scores = evaluate(generate(seed=12, warmed_share=0.3))
    assert scores.mcc >= 0.9 and scores.precision >= 0.95
    assert scores.qr_flagged_share <= 0.01


def _burst(account: int, users: range, start: datetime) -> list[Follow]:
    return [Follow(u, account, start + timedelta(seconds=i)) for i, u in enumerate(users)]


def test_a_burst_of_fresh_accounts_is_flagged_and_one_of_regulars_is_not():
    users = range(1, MIN_GROUP + 6)
    follows = _burst(7, users, T)
    dormant = {u: Facts(T - timedelta(days=2), None) for u in users}
    active = {u: Facts(T - timedelta(days=200), T - timedelta(days=100)) for u in users}
    flagged = detect(follows, follows, dormant)
    assert len(flagged) == len(follows)
    assert next(iter(flagged.values()))["rule"] == "fresh_burst"
    assert detect(follows, follows, active) == {}


def test_followers_unknown_to_insights_are_no_evidence():
    follows = _burst(7, range(1, MIN_GROUP + 6), T)
    assert detect(follows, follows, {}) == {}


def test_active_accounts_moving_in_lockstep_over_three_accounts_are_flagged():
    users = range(1, MIN_GROUP + 6)
    active = {u: Facts(T - timedelta(days=200), T - timedelta(days=100)) for u in users}
    mine = _burst(7, users, T)
    elsewhere = _burst(8, users, T + timedelta(hours=5)) + _burst(9, users, T + timedelta(hours=9))
    flagged = detect(mine, mine + elsewhere, active)
    assert {f.account_id for f in flagged} == {7, 8, 9}
    assert all(e["rule"] == "lockstep" for e in flagged.values())
    # Two synchronized accounts (a shop event with two booths) are not a farm.
    assert detect(mine, mine + elsewhere[: len(users)], active) == {}


def test_a_small_group_is_not_a_burst():
    users = range(1, MIN_GROUP)
    follows = _burst(7, users, T)
    assert detect(follows, follows, {u: Facts(T, None) for u in users}) == {}
