"""The traffic a fault meets: the load harness's open-loop publishes, reads, follows and
unfollows on a small seeded world, plus deletes and a suspension, so that every kind of
feed change is in flight when the fault strikes."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.client import WeitaoClient
from bench.harness import Driver, Recorder, Scenario
from bench.world import World, WorldSpec, build

WORLD = WorldSpec(consumers=150, operators=40, follows_min=3, follows_max=12, seed=9)


def scenario(duration_s: float) -> Scenario:
    return Scenario(
        "chaos",
        WORLD,
        duration_s=duration_s,
        publishes_per_s=1.5,
        reads_per_s=15,
        follows_per_s=2,
        events_per_s=0,
        readers=WORLD.consumers,
    )


@dataclass
class FaultRecorder(Recorder):
    """The harness's recorder, also keeping when each 5xx was answered."""

    server_errors: list[float] = field(default_factory=list)  # seconds since start

    def record(self, kind: str, status: int, ms: float) -> None:
        super().record(kind, status, ms)
        if status >= 500:
            self.server_errors.append(time.perf_counter() - self.started)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def error_window_s(self) -> float:
        """From the first 5xx to the last (0 with none)."""
        if not self.server_errors:
            return 0.0
        return max(self.server_errors) - min(self.server_errors)


async def new_world(api: WeitaoClient) -> World:
    """A fresh world whose consumers have all read once (so they are active)."""
    world = await build(api, WORLD, say=lambda m: None)
    for reader in world.consumers:
        await api.feed(reader)
    return world


async def retract_some(api: WeitaoClient, world: World, stop: asyncio.Event, rec: Counter) -> None:
    """While the load runs: deletes a few published posts and suspends one operator."""
    rng = random.Random(7)
    suspended = False
    while not stop.is_set():
        await asyncio.sleep(3)
        try:
            suspended = await _retract_one(api, rng.choice(world.operators), suspended, rng, rec)
        except aiohttp.ClientError:
            rec["unanswered"] += 1  # the service is down: that is the fault, try again later


async def _retract_one(
    api: WeitaoClient, operator: str, suspended: bool, rng: random.Random, rec: Counter
) -> bool:
    reply = await api.call(
        "publishing", "GET", f"/v1/accounts/{operator}/posts", as_=(operator, "user")
    )
    items: list[dict[str, Any]] = reply.body.get("items", []) if reply.status == 200 else []
    if items:
        gone = await api.call(
            "publishing", "DELETE", f"/v1/posts/{items[0]['id']}", as_=(operator, "user")
        )
        rec[f"delete {gone.status}"] += 1
    if not suspended and rng.random() < 0.3:
        reply = await api.call(
            "accounts", "POST", f"/v1/accounts/{operator}/suspend", as_=("ops", "staff")
        )
        rec[f"suspend {reply.status}"] += 1
        return reply.status == 204
    return suspended


async def drive(api: WeitaoClient, world: World, duration_s: float, rec: FaultRecorder) -> Counter:
    """Runs the load for `duration_s`; returns the counts of deletes and suspensions."""
    retractions: Counter = Counter()
    stop = asyncio.Event()
    retractor = asyncio.create_task(retract_some(api, world, stop, retractions))
    quota = {op: 3 for op in world.operators}
    try:
        await Driver(api, world, scenario(duration_s), rec, WORLD.seed, quota).run()
    finally:
        stop.set()
        await asyncio.gather(retractor, return_exceptions=True)
    return retractions
