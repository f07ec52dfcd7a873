"""A labelled synthetic world of follows for the fake-follower (刷粉) rules.

Seeded, so every run is the same world:
- 12,000 real consumers (accounts 30-700 days old, active since) following 3-8 of 60
  accounts over three days, popular ones most (Zipf-like);
- legitimate QR-scan bursts: shop events where 80-400 real consumers follow a shop
  within 30 minutes (some events have a second booth), 10-25 % of them signing up on
  the spot (brand-new accounts with no activity before the follow);
- bought-follower bursts of 50, 200 and 1,000 accounts within 10 minutes, drawn from
  farms of 2,500 accounts 1-20 days old (or `farm_age_days`), a farm serving five
  customers; half the orders with camouflage (each fake also follows 2-4 popular
  accounts at random times); the farm's accounts never did anything else, or
  (`warmed_share`) some were made to look active before they were used.

`evaluate()` runs the detector the way insights does (each account's follows with its
followers' other follows) and scores it per follower: precision, recall, MCC, and the
share of legitimate QR-burst followers flagged."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.insights.lockstep import Facts, Follow, detect

T0 = datetime(2026, 11, 20, tzinfo=UTC)
SPAN = timedelta(days=3)
ACCOUNTS = 60
POPULAR = 8


@dataclass
class World:
    follows: list[Follow] = field(default_factory=list)
    facts: dict[int, Facts] = field(default_factory=dict)
    fake_users: set[int] = field(default_factory=set)
    qr_users: set[int] = field(default_factory=set)  # legitimate QR-burst followers
    bursts: list[tuple[str, int, bool]] = field(default_factory=list)  # (kind, size, camouflage)


def _at(rng: random.Random, start: datetime, span: timedelta) -> datetime:
    return start + timedelta(seconds=rng.uniform(0, span.total_seconds()))


def generate(
    seed: int = 11,
    consumers: int = 12_000,
    warmed_share: float = 0.0,
    farm_age_days: tuple[float, float] = (1, 20),
) -> World:
    """The world; `warmed_share` of farm accounts were made to look active before use,
    and farm accounts are `farm_age_days` old (an aged farm is the hard case)."""
    rng = random.Random(seed)
    world = World()
    next_user = 1_000_000
    popularity = [1 / (rank + 1) ** 1.1 for rank in range(ACCOUNTS)]
    real: list[int] = []
    for _ in range(consumers):
        user = next_user = next_user + 1
        created = T0 - timedelta(days=rng.uniform(30, 700))
        world.facts[user] = Facts(created, created + timedelta(hours=rng.uniform(0, 48)))
        real.append(user)
        for account in set(rng.choices(range(ACCOUNTS), popularity, k=rng.randint(3, 8))):
            world.follows.append(Follow(user, account, _at(rng, T0, SPAN)))
    followed = {(f.user_id, f.account_id) for f in world.follows}

    def follow(user: int, account: int, at: datetime) -> None:
        if (user, account) not in followed:
            followed.add((user, account))
            world.follows.append(Follow(user, account, at))

    for _event in range(12):  # legitimate shop events, QR scans
        shop = rng.randrange(POPULAR, ACCOUNTS)
        second = rng.randrange(POPULAR, ACCOUNTS) if rng.random() < 0.4 else None
        start, size = _at(rng, T0, SPAN), rng.randint(80, 400)
        walk_ins = rng.uniform(0.10, 0.25)
        world.bursts.append(("qr", size, False))
        for _ in range(size):
            if rng.random() < walk_ins:
                user = next_user = next_user + 1
                at = _at(rng, start, timedelta(minutes=30))
                world.facts[user] = Facts(at - timedelta(minutes=rng.uniform(1, 10)), None)
            else:
                user = rng.choice(real)
                at = _at(rng, start, timedelta(minutes=30))
            world.qr_users.add(user)
            follow(user, shop, at)
            if second is not None and rng.random() < 0.5:
                follow(user, second, at + timedelta(minutes=rng.uniform(1, 15)))

    for _farm in range(3):  # each farm serves several customers from one pool
        pool = []
        for _ in range(2500):
            user = next_user = next_user + 1
            created = T0 - timedelta(days=rng.uniform(*farm_age_days))
            warmed = rng.random() < warmed_share
            world.facts[user] = Facts(created, created + timedelta(hours=1) if warmed else None)
            world.fake_users.add(user)
            pool.append(user)
        for size in (50, 200, 1000, 50, 200):
            camouflage = rng.random() < 0.5
            world.bursts.append(("bought", size, camouflage))
            target, start = rng.randrange(POPULAR, ACCOUNTS), _at(rng, T0, SPAN)
            for user in rng.sample(pool, size):
                follow(user, target, _at(rng, start, timedelta(minutes=10)))
                if camouflage:
                    for popular in rng.sample(range(POPULAR), rng.randint(2, 4)):
                        follow(user, popular, _at(rng, T0, SPAN))
    return world


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    mcc: float
    qr_flagged_share: float
    flagged: int
    fakes: int


def flagged_users(world: World) -> set[int]:
    """Followers the detector flags when each account's follows are evaluated."""
    by_account: dict[int, list[Follow]] = defaultdict(list)
    by_user: dict[int, list[Follow]] = defaultdict(list)
    for f in world.follows:
        by_account[f.account_id].append(f)
        by_user[f.user_id].append(f)
    flagged: set[int] = set()
    for follows in by_account.values():
        users = {f.user_id for f in follows}
        others = [g for u in users for g in by_user[u]]
        flagged |= {f.user_id for f in detect(follows, others, world.facts)}
    return flagged


def evaluate(world: World) -> Scores:
    flagged = flagged_users(world)
    everyone = {f.user_id for f in world.follows}
    fakes = world.fake_users & everyone  # farm accounts no customer used follow nobody
    tp = len(flagged & fakes)
    fp = len(flagged - fakes)
    fn = len(fakes - flagged)
    tn = len(everyone) - tp - fp - fn
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) or 1.0
    return Scores(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        mcc=(tp * tn - fp * fn) / denominator,
        qr_flagged_share=len(flagged & world.qr_users) / len(world.qr_users),
        flagged=len(flagged),
        fakes=len(fakes),
    )


if __name__ == "__main__":
    for warmed in (0.0, 0.3):
        print(f"warmed_share={warmed}", evaluate(generate(warmed_share=warmed)))
