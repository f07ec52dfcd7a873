"""The Swing pass in its child process, on the real Postgres and Redis: it reads the
window from the schema's own tables and writes each account's related list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.insights.associated import related_key
from services.insights.swing_job import SwingRefresher
from shared.timeutil import utcnow
from tests.support import scratch_schema

BASE = 970_000_000_000  # account ids no other test uses


@pytest.fixture
async def scratch(stack) -> AsyncIterator[tuple[str, object]]:
    async with scratch_schema(stack.str("WEITAO_POSTGRES_DSN"), "insights") as scratch:
        yield scratch


async def test_a_pass_writes_the_accounts_that_users_share(stack, redis, scratch):
    schema, pool = scratch
    shop_a, shop_b, lonely = BASE + 1, BASE + 2, BASE + 3
    now = utcnow()
    # Three users favourite both shops (Swing needs at least two in common); one user
    # touches the lonely shop only, and an old favourite is outside the window.
    rows = [(u, a, "favorite", now) for u in (1, 2, 3) for a in (shop_a, shop_b)]
    rows += [(4, lonely, "favorite", now), (5, lonely, "purchase", now - timedelta(days=90))]
    await pool.executemany(
        "INSERT INTO interactions (user_id, account_id, kind, at) VALUES ($1, $2, $3, $4)", rows
    )
    await redis.delete(*(related_key(a) for a in (shop_a, shop_b, lonely)))
    refresher = SwingRefresher(stack.str("WEITAO_POSTGRES_DSN"), schema, redis, 30)
    try:
        await refresher.refresh(now)
    finally:
        refresher.close()
    assert await redis.zrange(related_key(shop_a), 0, -1) == [str(shop_b).encode()]
    assert await redis.zrange(related_key(shop_b), 0, -1) == [str(shop_a).encode()]
    assert await redis.exists(related_key(lonely)) == 0
