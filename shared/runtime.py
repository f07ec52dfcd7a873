"""aiohttp lifecycle pieces every service wires the same way: each client is a cleanup
context, each consumer or relay loop a background task cancelled and awaited on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import asyncpg
from aiohttp import web

from shared import db, redis_cluster
from shared.ids import IdGenerator, claim_worker
from shared.kafka import kafka_reachable
from shared.redis_cluster import AnyRedis
from shared.web.ops import add_readiness_check

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def postgres(key: web.AppKey[asyncpg.Pool], dsn: str, schema: str, migrations: Path) -> CleanupCtx:
    """Migrates the service's schema, then holds a pool for it under `key`."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await db.migrate(dsn, schema, migrations)
        pool = await db.create_pool(dsn, schema)
        app[key] = pool
        add_readiness_check(app, "postgres", lambda: pool.fetchval("SELECT 1"))
        yield
        await pool.close()

    return ctx


def redis(key: web.AppKey[AnyRedis], url: str, cluster: bool) -> CleanupCtx:
    """A Redis (or Redis Cluster) client under `key`, checked by /readyz."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = redis_cluster.connect(url, cluster)
        app[key] = client
        add_readiness_check(app, "redis", client.ping)
        yield
        await client.aclose()

    return ctx


def id_worker(key: web.AppKey[IdGenerator], dsn: str) -> CleanupCtx:
    """An id generator under `key` minting with a worker number no other live process
    holds (claimed from Postgres); /readyz is 503 while the number is being reclaimed."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        lease = await claim_worker(dsn)
        app[key] = IdGenerator(lease)

        async def holds_a_number() -> int:
            return lease.number()

        add_readiness_check(app, "id_worker", holds_a_number)
        yield
        await lease.release()

    return ctx


def kafka_readiness(bootstrap: str) -> CleanupCtx:
    """/readyz also checks that Kafka accepts connections."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        add_readiness_check(app, "kafka", lambda: kafka_reachable(bootstrap))
        yield

    return ctx


def background(name: str, loop: Callable[[web.Application], Awaitable[None]]) -> CleanupCtx:
    """Runs `loop(app)` as a task for the app's lifetime; a crash is logged and restarts it."""

    async def supervised(app: web.Application) -> None:
        while True:
            try:
                await loop(app)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop crashed; restarting", extra={"loop": name})
                await asyncio.sleep(1.0)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(supervised(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def every(
    name: str, interval_s: float, step: Callable[[web.Application], Awaitable[object]]
) -> CleanupCtx:
    """Runs `step(app)` and then waits `interval_s`, for the app's lifetime (a background
    task: a crash is logged and the loop restarts)."""

    async def loop(app: web.Application) -> None:
        while True:
            await step(app)
            await asyncio.sleep(interval_s)

    return background(name, loop)


class Runnable(Protocol):
    async def run(self) -> None: ...


def running(name: str, loop_of: Callable[[web.Application], Runnable]) -> CleanupCtx:
    """Runs the loop `loop_of(app)` gives (a consumer loop, a relay: anything with an async
    `run()`, made by an earlier cleanup context) for the app's lifetime, in the background."""

    async def loop(app: web.Application) -> None:
        await loop_of(app).run()

    return background(name, loop)


# The cyclic collector's thresholds once a service has started. Python's defaults
# (700, 10, 10) collected 8.5% of feedread's CPU under load, in pauses of up to 43 ms
# (a full collection walking every cached post), for a service whose garbage is nearly
# all freed by reference counting: with these, 0.7%, pauses under 6 ms (docs/benchmarks.md).
GC_THRESHOLDS = (10_000, 20, 100)


def quiet_gc(app: web.Application) -> None:
    """Once `app` has started, leaves what startup made (modules, clients, tables) out of
    every later collection and collects less often (GC_THRESHOLDS)."""

    async def tune(_: web.Application) -> None:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)

    app.on_startup.append(tune)


def serve(app: web.Application, host: str, port: int) -> None:
    """Serves `app` until SIGINT/SIGTERM, allowing 5 s for in-flight requests; the
    collector is tuned once it has started (quiet_gc)."""
    quiet_gc(app)
    web.run_app(app, host=host, port=port, print=None, access_log=None, shutdown_timeout=5.0)
