"""A seeded, reproducible synthetic Weitao built through the public API: consumers,
operators across the categories, and heavy-tailed (Zipf-like) follows, so that a few
accounts hold a large share of all consumers. Bulk calls go through the staff bulk
import, which runs the same domain code and emits the same events as single calls (its
follows say `source: import`: a migrated follower base, not follows made at that moment,
so insights' fake-follower judge does not take their time as evidence). And one bought
follower burst, as a farm would make it: fresh accounts each following one operator by
its own call within seconds."""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass, field

from bench.client import WeitaoClient
from shared.vocabulary import CATEGORIES

BULK = 2000  # items per bulk call (API limit)
OPERATOR_KINDS = ("seller", "influencer", "media")
FARM_CONCURRENCY = 50  # a farm's follows in flight at once


@dataclass(frozen=True)
class WorldSpec:
    consumers: int
    operators: int
    follows_min: int = 5
    follows_max: int = 200
    zipf_s: float = 1.1  # exponent of the follower distribution over operators
    seed: int = 2013


@dataclass
class World:
    consumers: list[str]
    operators: list[str]
    category: dict[str, str]
    followers: dict[str, list[str]] = field(default_factory=dict)  # operator -> consumers
    follows: int = 0

    def follower_count(self, operator: str) -> int:
        return len(self.followers.get(operator, []))


def plan_follows(spec: WorldSpec, consumers: int, operators: int) -> list[list[int]]:
    """For each consumer, the operator indexes it follows: 5-200 distinct accounts drawn
    with Zipf weights (operator i has weight 1/(i+1)^s). Pure and seeded."""
    rng = random.Random(spec.seed)
    weights = [1 / (i + 1) ** spec.zipf_s for i in range(operators)]
    plan = []
    for _ in range(consumers):
        count = min(operators, rng.randint(spec.follows_min, spec.follows_max))
        chosen: set[int] = set()
        while len(chosen) < count:
            chosen.update(rng.choices(range(operators), weights, k=count - len(chosen)))
        plan.append(sorted(chosen))
    return plan


async def build(api: WeitaoClient, spec: WorldSpec, say=print) -> World:
    rng = random.Random(spec.seed)
    tag = secrets.token_hex(3)  # handles are unique per build; the shape is seeded
    code = await api.create_invitation(max_uses=spec.operators)
    operators = [
        {
            "handle": f"op{tag}{i}",
            "kind": OPERATOR_KINDS[i % 3],
            "display_name": f"店铺{i}",
            "category": CATEGORIES[rng.randrange(len(CATEGORIES))],
            "invitation_code": code,
        }
        for i in range(spec.operators)
    ]
    made_ops = await _bulk_accounts(api, operators)
    consumers = [
        {"handle": f"c{tag}{i}", "kind": "consumer", "display_name": f"买家{i}"}
        for i in range(spec.consumers)
    ]
    made_consumers = await _bulk_accounts(api, consumers)
    say(f"created {len(made_ops)} operators and {len(made_consumers)} consumers")
    world = World(
        [a["id"] for a in made_consumers],
        [a["id"] for a in made_ops],
        {a["id"]: a["category"] for a in made_ops},
    )
    pairs = []
    for consumer, chosen in zip(
        world.consumers, plan_follows(spec, len(world.consumers), len(world.operators)), strict=True
    ):
        for index in chosen:
            operator = world.operators[index]
            pairs.append({"user_id": consumer, "account_id": operator})
            world.followers.setdefault(operator, []).append(consumer)
    for start in range(0, len(pairs), BULK):
        reply = await api.call(
            "accounts",
            "POST",
            "/v1/admin/bulk/follows",
            as_=("harness", "staff"),
            json={"action": "follow", "pairs": pairs[start : start + BULK]},
        )
        reply.expect(200)
        if start // BULK % 50 == 0:
            say(f"  follows: {start + BULK:,} / {len(pairs):,}")
    world.follows = len(pairs)
    return world


async def _bulk_accounts(api: WeitaoClient, accounts: list[dict]) -> list[dict]:
    made = []
    for start in range(0, len(accounts), BULK):
        reply = await api.call(
            "accounts",
            "POST",
            "/v1/admin/bulk/accounts",
            as_=("harness", "staff"),
            json={"accounts": accounts[start : start + BULK]},
        )
        made += reply.expect(201)["created"]
    return made


@dataclass(frozen=True)
class BoughtBurst:
    account: str  # the operator who bought followers
    followers: list[str]


async def buy_followers(api: WeitaoClient, world: World, size: int, seed: int) -> BoughtBurst:
    """`size` brand-new accounts follow one mid-popularity operator at once, each by its
    own PUT (what a follower farm does); the operator and the bought followers."""
    tag = secrets.token_hex(3)
    farm = [
        {"handle": f"farm{tag}{i}", "kind": "consumer", "display_name": f"粉{i}"}
        for i in range(size)
    ]
    bought = [a["id"] for a in await _bulk_accounts(api, farm)]
    ops = world.operators
    account = ops[random.Random(seed).randrange(len(ops) // 2, len(ops))]
    for start in range(0, len(bought), FARM_CONCURRENCY):
        wave = bought[start : start + FARM_CONCURRENCY]
        await asyncio.gather(*(api.follow(user, account) for user in wave))
    return BoughtBurst(account, bought)
