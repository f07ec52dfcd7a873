"""The periodic Swing pass (docs/insights.md "Associated recommendation"): every
account's related list recomputed from the window and written to Redis.

The pass is seconds of pure Python over every interaction of the window. Run in a thread
it held the interpreter lock, and the insights process's requests waited behind it
(official list p99 in the hundreds of ms while it ran, `make bench-insights`); so it runs
in a child process of its own, which reads the window itself and hands back only each
account's top list.

A pass is paced by `rest_after`: when it outgrows its interval (the local stack's window
once took 48 s of CPU a pass, every 60 s) the job still rests REST_PER_PASS times as long
as the pass took, so Swing holds at most a quarter of one core on average."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from services.insights.associated import related_key
from services.insights.swing import TOP_K, swing, top
from shared.redis_cluster import AnyRedis
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

# Who did what with which account in the window: favourites, purchases and follows.
INTERACTIONS_SQL = """
SELECT user_id, account_id FROM interactions WHERE at >= $1
UNION
SELECT user_id, account_id FROM follows WHERE following AND at >= $1
"""
Related = dict[int, list[tuple[int, float]]]  # account -> its top related (account, score)
# Seconds of rest per second of pass, at least: a pass uses at most 1 / (1 + 3) of a core.
REST_PER_PASS = 3.0


def related_lists(dsn: str, schema: str, since: datetime) -> Related:
    """Every account's top related accounts by Swing over what users did since `since`
    (runs in the child process: reads the window from the schema's tables itself)."""

    async def window() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        try:
            return await conn.fetch(INTERACTIONS_SQL, since)
        finally:
            await conn.close()

    items_of_user: dict[int, set[int]] = defaultdict(set)
    for user_id, account_id in asyncio.run(window()):
        items_of_user[user_id].add(account_id)
    return {account: top(scores, TOP_K) for account, scores in swing(items_of_user).items()}


def _exit_with_parent(parent: int) -> None:
    """Runs in the child: it exits once its parent is gone, so a service killed with
    kill -9 leaves no orphan pass behind (the pool's own shutdown never ran)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class SwingRefresher:
    """Recomputes the Swing lists in a child process and swaps them into Redis."""

    def __init__(self, dsn: str, schema: str, redis: AnyRedis, window_days: int) -> None:
        self.dsn, self.schema, self.redis = dsn, schema, redis
        self.window_days = window_days
        # spawn: a fresh interpreter, not a fork of one running an event loop and sockets.
        self._child = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )

    async def refresh(self, now: datetime) -> int:
        """One pass over the window ending `now`; how many accounts' lists were written."""
        since = now - timedelta(days=self.window_days)
        lists = await asyncio.get_running_loop().run_in_executor(
            self._child, related_lists, self.dsn, self.schema, since
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for account, best in lists.items():
                pipe.delete(related_key(account))
                if best:
                    pipe.zadd(related_key(account), {str(j): s for j, s in best})
            await pipe.execute()
        return len(lists)

    def close(self) -> None:
        """Stops the child process (a pass under way is abandoned)."""
        self._child.shutdown(wait=False, cancel_futures=True)


def rest_after(pass_s: float, interval_s: float, rest_per_pass: float = REST_PER_PASS) -> float:
    """Seconds to wait after a pass that took `pass_s`: the interval, or `rest_per_pass`
    times the pass when that is longer (a pass then takes at most 1 / (1 + rest_per_pass)
    of the time)."""
    return max(interval_s, rest_per_pass * pass_s)


class Refresher(Protocol):
    async def refresh(self, now: datetime) -> int: ...


class SwingSchedule:
    """Runs the refresher's passes for the app's lifetime, resting `rest_after` each one;
    logs every pass and exports the last one's duration and rest as gauges."""

    def __init__(
        self,
        refresher: Refresher,
        interval_s: float,
        registry: CollectorRegistry,
        rest_per_pass: float = REST_PER_PASS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.refresher, self.interval_s, self.rest_per_pass = refresher, interval_s, rest_per_pass
        self.clock, self.sleep = clock, sleep
        self.pass_seconds = Gauge(
            "insights_swing_pass_seconds", "Wall seconds of the last Swing pass", registry=registry
        )
        self.rest_seconds = Gauge(
            "insights_swing_rest_seconds",
            "Seconds rested after the last Swing pass",
            registry=registry,
        )

    async def run(self) -> None:
        """Pass, rest, forever; a failed pass is logged and rested after like any other."""
        while True:
            started = self.clock()
            accounts = None
            try:
                accounts = await self.refresher.refresh(utcnow())
            except Exception:
                log.exception("swing pass failed")
            took = self.clock() - started
            rest = rest_after(took, self.interval_s, self.rest_per_pass)
            self.pass_seconds.set(took)
            self.rest_seconds.set(rest)
            log.info(
                "swing pass done",
                extra={"accounts": accounts, "pass_s": round(took, 3), "rest_s": round(rest, 3)},
            )
            await self.sleep(rest)
