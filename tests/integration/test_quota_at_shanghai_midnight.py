"""The 3-a-day rule held by Postgres: twenty concurrent publishes for one account at
23:59:59 Shanghai time give exactly three posts that day, and the day turns at midnight.

The store is driven with a chosen clock (publish takes `now`), against the real database
the running publishing service uses; a far-future day keeps the test independent of today.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import msgspec

from services.publishing.domain import DailyQuotaExceeded
from services.publishing.new_post import NewPost
from services.publishing.store import PostStore
from shared import db
from shared.ids import IdGenerator
from tests.support import publish, seller

LAST_SECOND = datetime(2031, 3, 1, 15, 59, 59, 500_000, tzinfo=UTC)  # 23:59:59.5 Shanghai
NEXT_DAY = datetime(2031, 3, 1, 16, 0, 0, 500_000, tzinfo=UTC)  # 00:00:00.5 Shanghai


async def test_twenty_concurrent_publishes_at_235959_shanghai_give_exactly_three(api, stack):
    shop = await seller(api)
    await publish(api, shop, "publishing knows this account now")
    pool = await db.create_pool(stack.str("WEITAO_POSTGRES_DSN"), "publishing", max_size=20)
    store, ids = PostStore(pool), IdGenerator(worker=1001)

    async def attempt(now: datetime) -> str:
        post = msgspec.convert(
            {"kind": "article", "title": "抢购", "body": secrets.token_hex(20)}, NewPost
        )
        try:
            await store.publish(ids.next_id(), int(shop["id"]), post, now, 3, None)
            return "published"
        except DailyQuotaExceeded:
            return "refused"

    try:
        results = await asyncio.gather(*(attempt(LAST_SECOND) for _ in range(20)))
        assert sorted(results) == ["published"] * 3 + ["refused"] * 17
        next_day = await asyncio.gather(*(attempt(NEXT_DAY) for _ in range(5)))
        assert sorted(next_day) == ["published"] * 3 + ["refused"] * 2
        days = await pool.fetch(
            "SELECT shanghai_day, count(*) AS n FROM posts WHERE account_id = $1 "
            "AND created_at >= $2 GROUP BY shanghai_day ORDER BY shanghai_day",
            int(shop["id"]),
            LAST_SECOND,
        )
        assert [(str(r["shanghai_day"]), r["n"]) for r in days] == [
            ("2031-03-01", 3),
            ("2031-03-02", 3),
        ]
    finally:
        await pool.close()
