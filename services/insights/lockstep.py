"""Fake-follower (刷粉) rules, pure: which follows of a burst are bought.

Two signals, after CopyCatch (Beutel et al., WWW 2013) and SynchroTrap (Cao et al., CCS
2014): bought followers come in *bursts* (many follows of one account within minutes),
and a farm's accounts act in *lockstep* (the same group follows several accounts, each
within minutes). A legitimate QR-scan burst at a shop event is a burst too, but of
people who were active before they followed and who do not move together elsewhere.

- lockstep: a follower in a burst of at least MIN_GROUP followers of each of at least
  LOCKSTEP_ACCOUNTS accounts, drawn from the same group of followers;
- fresh burst: a *fresh* follower (no activity before the follow, or an account younger
  than YOUNG_ACCOUNT) in a burst of which at least FRESH_SHARE were fresh too.
Evaluated on tests/insights_fakefollowers.py's labelled bursts (docs/insights.md)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# A burst: follows within this of each other (the bought bursts: "within 10 minutes").
WINDOW = timedelta(minutes=10)
MIN_GROUP = 20  # fewer followers than this in a window is ordinary traffic, not a burst
LOCKSTEP_ACCOUNTS = 3  # a shop event may have two booths; three synchronized targets is a farm
# Real shop events bring some brand-new sign-ups (10-25 % in the generator); bought
# bursts are nearly all fresh.
FRESH_SHARE = 0.6
# Younger than this, an account counts as fresh even with some activity: farms "warm"
# their accounts with a little browsing; a shop's regular is rarely this new.
YOUNG_ACCOUNT = timedelta(days=30)


@dataclass(frozen=True)
class Follow:
    user_id: int
    account_id: int
    at: datetime


@dataclass(frozen=True)
class Facts:
    """What insights knows of a follower: when the account was made, when first active."""

    created_at: datetime | None
    first_active_at: datetime | None

    def active_before(self, moment: datetime) -> bool:
        return self.first_active_at is not None and self.first_active_at < moment

    def fresh_at(self, moment: datetime) -> bool:
        """Known to insights, and inactive before `moment` or younger than YOUNG_ACCOUNT
        then (an account whose event has not arrived yet is no evidence either way)."""
        if self.created_at is None:
            return False
        return not self.active_before(moment) or moment - self.created_at < YOUNG_ACCOUNT


def in_bursts(follows: Iterable[Follow]) -> dict[Follow, list[Follow]]:
    """Each follow with at least MIN_GROUP follows of its account (itself included) within
    WINDOW of it, mapped to those follows."""
    by_account: dict[int, list[Follow]] = defaultdict(list)
    for f in follows:
        by_account[f.account_id].append(f)
    result = {}
    for group in by_account.values():
        group.sort(key=lambda f: (f.at, f.user_id))
        times = [f.at for f in group]
        for f in group:
            lo, hi = bisect_left(times, f.at - WINDOW), bisect_right(times, f.at + WINDOW)
            if hi - lo >= MIN_GROUP:
                result[f] = group[lo:hi]
    return result


def detect(
    account_follows: Iterable[Follow],
    members_follows: Iterable[Follow],
    facts: Mapping[int, Facts],
) -> dict[Follow, dict[str, Any]]:
    """The bought follows among `account_follows` (one account's follows around new
    ones) and, by lockstep, among `members_follows` (other follows of the same users),
    each with its evidence."""
    bursts = in_bursts(account_follows)
    members = {f.user_id for f in bursts}
    # For each other account, when each member followed it: the lockstep test asks how
    # many of a follow's burst followed that account within WINDOW of this user.
    times_of: dict[int, dict[int, datetime]] = defaultdict(dict)
    own: dict[int, list[Follow]] = defaultdict(list)
    for g in members_follows:
        if g.user_id in members:
            times_of[g.account_id][g.user_id] = g.at
            own[g.user_id].append(g)
    shared_accounts = {b for b, who in times_of.items() if len(who) >= MIN_GROUP}
    flagged: dict[Follow, dict[str, Any]] = {}
    for f, burst in bursts.items():
        synchronized = [
            g
            for g in own[f.user_id]
            if g.account_id in shared_accounts
            and g.account_id != f.account_id
            and _together(burst, times_of[g.account_id], g.at) >= MIN_GROUP
        ]
        fact = _facts(facts, f.user_id)
        fresh = sum(1 for b in burst if _facts(facts, b.user_id).fresh_at(b.at))
        evidence = {
            "burst_size": len(burst),
            "fresh_share": round(fresh / len(burst), 3),
            "active_before": fact.active_before(f.at),
            "account_age_s": int((f.at - fact.created_at).total_seconds())
            if fact.created_at
            else None,
            "lockstep_accounts": sorted({str(g.account_id) for g in synchronized}),
        }
        if 1 + len({g.account_id for g in synchronized}) >= LOCKSTEP_ACCOUNTS:
            flagged[f] = {"rule": "lockstep", **evidence}
            for g in synchronized:
                flagged.setdefault(g, {"rule": "lockstep", **evidence})
        elif fresh / len(burst) >= FRESH_SHARE and fact.fresh_at(f.at):
            flagged[f] = {"rule": "fresh_burst", **evidence}
    return flagged


def _facts(facts: Mapping[int, Facts], user_id: int) -> Facts:
    return facts.get(user_id) or Facts(None, None)


def _together(burst: list[Follow], followed_at: Mapping[int, datetime], moment: datetime) -> int:
    """How many of `burst` followed the other account within WINDOW of `moment`."""
    return sum(
        1
        for b in burst
        if (at := followed_at.get(b.user_id)) is not None and abs(at - moment) <= WINDOW
    )
