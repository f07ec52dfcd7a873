"""The fault suite (`make chaos`): each fault struck while the load runs, then every
reader's feed held against Postgres truth. See docs/reliability.md for the last run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bench.client import WeitaoClient
from bench.settle import settle
from shared.config import Env
from shared.redis_cluster import connect
from shared.topics import ACCOUNTS, FOLLOWS, POSTS
from tests.chaos.conftest import Row
from tests.chaos.truth import Verdict, judge
from tests.chaos.workload import FaultRecorder, drive, new_world
from tests.conftest import ROOT
from tests.faults import (
    SERVICES,
    dead_letters_written,
    rewind_group,
    stack_async,
    watching_readiness,
)

pytestmark = pytest.mark.chaos

LOAD_S = 75  # the load runs this long; the fault strikes FAULT_AT_S into it
FAULT_AT_S = 8
OUTAGE_S = 30


@dataclass(frozen=True)
class Fault:
    slug: str
    name: str
    strike: Callable[[Env], Awaitable[None]]
    touches: tuple[str, ...]  # services whose readiness the fault must turn to 503


async def _outage(name: str, how: str) -> None:
    await stack_async(how, name)
    try:
        await asyncio.sleep(OUTAGE_S)
    finally:
        await stack_async("start", name)


async def redis_down(env: Env) -> None:
    await _outage("redis", "kill")


async def redis_wiped(env: Env) -> None:
    redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
    try:
        await redis.flushall()
    finally:
        await redis.aclose()
    for module in ("services.accounts.reemit", "services.publishing.reemit"):
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", module], cwd=ROOT, check=True
        )


async def postgres_restarted(env: Env) -> None:
    await stack_async("stop", "postgres")
    await asyncio.sleep(10)
    await stack_async("start", "postgres")


async def kafka_down(env: Env) -> None:
    await _outage("kafka", "kill")


# A supervisor restarts a crashed service after a pause (systemd's RestartSec, Docker's
# restart backoff). Without one, a warm restart here takes ~0.4 s, shorter than the
# readiness probes' 0.5 s, and the suite could not tell the crash happened.
RESTART_DELAY_S = 1.0


def service_killed(service: str) -> Callable[[Env], Awaitable[None]]:
    async def strike(env: Env) -> None:
        await stack_async("kill", service)
        await asyncio.sleep(RESTART_DELAY_S)
        await stack_async("start", service)

    return strike


async def groups_replayed(env: Env) -> None:
    """fanout and feedread stopped, their groups rewound to offset 0, then started."""
    bootstrap = env.str("WEITAO_KAFKA_BOOTSTRAP")
    for service in ("fanout", "feedread"):
        await stack_async("stop", service)
    names = [ACCOUNTS.name, FOLLOWS.name, POSTS.name]
    for group in ("fanout", "feedread"):
        await rewind_group(bootstrap, group, names)
    await stack_async("start", "fanout")  # starts every service that is down


FAULTS = [
    Fault("redis-down", "Redis down 30 s (kill -9, data kept)", redis_down, ("fanout", "feedread")),
    Fault("redis-wiped", "Redis wiped, then rebuilt (make rebuild-feeds)", redis_wiped, ()),
    Fault(
        "postgres-restart",
        "Postgres stopped 10 s and restarted",
        postgres_restarted,
        ("accounts", "publishing"),
    ),
    Fault("kafka-down", "Kafka broker killed 30 s", kafka_down, ()),
    *(
        Fault(f"kill-{s}", f"{s} kill -9 mid-work, restarted", service_killed(s), (s,))
        for s in SERVICES
    ),
    Fault(
        "groups-replayed",
        "fanout and feedread groups reset to offset 0",
        groups_replayed,
        ("fanout", "feedread"),
    ),
]


async def _judge_until_clean(api: WeitaoClient, env: Env, readers: list[str]) -> Verdict:
    """Recovery is eventual: judged again until clean or 120 s have passed."""
    deadline = time.monotonic() + 120
    while True:
        verdict = await judge(
            api, env.str("WEITAO_POSTGRES_DSN"), readers, env.int("WEITAO_FEED_CAP")
        )
        if verdict.clean or time.monotonic() > deadline:
            return verdict
        await asyncio.sleep(3)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.slug)
async def test_fault_loses_nothing(api, stack, reliability_rows, fault: Fault):
    bootstrap = stack.str("WEITAO_KAFKA_BOOTSTRAP")
    world = await new_world(api)
    await settle(bootstrap, say=lambda m: None)
    letters_before = await dead_letters_written(bootstrap)
    rec = FaultRecorder()

    async def strike_later() -> tuple[float, float]:
        await asyncio.sleep(FAULT_AT_S)
        began = readiness.now()
        await fault.strike(stack)
        return began, readiness.now()

    async with watching_readiness(api.urls) as readiness:
        load = asyncio.create_task(drive(api, world, LOAD_S, rec))
        began, ended = await strike_later()
        await load
        await settle(bootstrap, timeout_s=300, say=lambda m: None)
        recovered = time.monotonic()
        verdict = await _judge_until_clean(api, stack, world.consumers)
        recovered_s = time.monotonic() - recovered
        await asyncio.sleep(1.5)
        after = {s: readiness.statuses(s, readiness.now() - 1) for s in SERVICES}
        during = {s: readiness.statuses(s, began, ended) for s in fault.touches}

    letters = await dead_letters_written(bootstrap) - letters_before
    reliability_rows.append(
        Row(
            fault=fault.name,
            requests=rec.requests,
            server_errors=len(rec.server_errors),
            error_window_s=rec.error_window_s(),
            posts=verdict.expected,
            lost=len(verdict.lost),
            doubled=len(verdict.doubled),
            wrongly_served=len(verdict.wrongly_served),
            dead_letters=letters,
            readiness=(", ".join(f"{s} {sorted(v)}" for s, v in during.items()) or "n/a")
            + " -> "
            + ("all 200" if all(v == {200} for v in after.values()) else str(after)),
            recovered_s=recovered_s,
            command=f"make chaos K={fault.slug}",
        )
    )
    assert verdict.clean, (verdict.lost[:5], verdict.doubled[:5], verdict.wrongly_served[:5])
    assert letters == 0
    assert all(v == {200} for v in after.values()), after
    for service, seen in during.items():
        # The probes from a second before the fault to a second after, to tell a fault
        # that did not take from a probe that did not look.
        around = [(round(t - began, 2), s) for t, s in readiness.samples.get(service, [])]
        window = [(t, s) for t, s in around if -1 <= t <= ended - began + 1]
        assert seen - {200}, (
            f"{service} stayed ready during the fault ({ended - began:.2f} s): {window}"
        )
