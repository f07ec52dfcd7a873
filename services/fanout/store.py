"""Fan-out's state: its projection of follows and account modes (Postgres,
services.fanout.projection) and the feeds and timelines it writes (Redis,
services.fanout.feeds), behind one object for the handlers."""

from __future__ import annotations

import asyncpg

from services.fanout.domain import AccountMode, AccountState, Entry, FollowsApplied
from services.fanout.feeds import FeedWriter
from services.fanout.projection import Projection
from shared.redis_cluster import AnyRedis

__all__ = ["AccountMode", "AccountState", "Entry", "FanoutStore", "FollowsApplied"]


class FanoutStore(Projection, FeedWriter):
    def __init__(self, pool: asyncpg.Pool, redis: AnyRedis, feed_cap: int) -> None:
        Projection.__init__(self, pool)
        FeedWriter.__init__(self, redis, feed_cap)
        self._extra_last_sync: set[bytes] = set()

    async def sync_pull_set(self) -> None:
        """Makes the Redis pull set match Postgres (after a Redis wipe, say).

        A switch to pull writes Redis before Postgres, so an account can be in the set
        but not yet pulled in Postgres for a moment: it is removed only when it is found
        so on two syncs in a row (a switch takes well under the sync period)."""
        current = await self.pulled()
        truth = await self.pulled_accounts()
        await self.writes.add_pulled(truth - current)
        extra = current - truth
        await self.writes.remove_pulled(extra & self._extra_last_sync)
        self._extra_last_sync = extra
