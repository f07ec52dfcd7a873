"""The periodic Swing pass (docs/insights.md "Associated recommendation"): every
account's related list recomputed from the window and written to Redis.

The pass is seconds of pure Python over every interaction of the window. Run in a thread
it held the interpreter lock, and the insights process's requests waited behind it
(official list p99 in the hundreds of ms while it ran, `make bench-insights`); so it runs
in a child process of its own, which reads the window itself and hands back only each
account's top list."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

import asyncpg

from services.insights.associated import related_key
from services.insights.swing import TOP_K, swing, top
from shared.redis_cluster import AnyRedis

# Who did what with which account in the window: favourites, purchases and follows.
INTERACTIONS_SQL = """
SELECT user_id, account_id FROM interactions WHERE at >= $1
UNION
SELECT user_id, account_id FROM follows WHERE following AND at >= $1
"""
Related = dict[int, list[tuple[int, float]]]  # account -> its top related (account, score)


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
