"""The outbox relay outlives its Postgres connection: when the server ends it (a restart,
a failover, an operator), the relay connects again and goes on publishing."""

from __future__ import annotations

import asyncio
import secrets

from prometheus_client import CollectorRegistry

from shared import db, outbox
from shared.events import FeedRebuildRequested
from shared.outbox import OutboxRelay
from tests.support import events_of_type, eventually

SCHEMA = "outbox_relay_test"
MIGRATION = (
    "CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, topic text NOT NULL, "
    "key text NOT NULL, envelope bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


async def test_the_relay_reconnects_after_its_connection_is_terminated(stack):
    dsn, bootstrap = stack.str("WEITAO_POSTGRES_DSN"), stack.str("WEITAO_KAFKA_BOOTSTRAP")
    pool = await db.create_pool(dsn, "pg_catalog")
    await pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
    await pool.close()
    pool = await db.create_pool(dsn, SCHEMA)
    await pool.execute(MIGRATION)
    relay = asyncio.create_task(OutboxRelay(pool, SCHEMA, bootstrap, CollectorRegistry()).run())
    user = str(10**17 + secrets.randbelow(10**17))
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(
                conn, SCHEMA, FeedRebuildRequested(user_id=user, at="2026-11-25T00:00:00.000Z")
            )
        await eventually(lambda: _rebuilds(bootstrap, user), lambda n: n == 1, timeout_s=30)

        # The server ends the relay's session (what a Postgres restart does to it).
        await pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = $1 AND pid <> pg_backend_pid()",
            f"weitao-{SCHEMA}",
        )
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(
                conn, SCHEMA, FeedRebuildRequested(user_id=user, at="2026-11-25T00:00:00.000Z")
            )
        await eventually(lambda: _rebuilds(bootstrap, user), lambda n: n == 2, timeout_s=30)
        assert not relay.done(), relay
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await pool.close()


def test_a_second_relay_in_one_process_shares_the_metrics_registry():
    registry = CollectorRegistry()
    OutboxRelay(None, SCHEMA, "127.0.0.1:1", registry)  # type: ignore[arg-type]
    OutboxRelay(None, SCHEMA, "127.0.0.1:1", registry)  # type: ignore[arg-type]


async def _rebuilds(bootstrap: str, user: str) -> int:
    return len(await events_of_type(bootstrap, {user}, FeedRebuildRequested))
