"""The envelope ids a consumer has applied (its `seen_events` table), kept only as long
as a redelivery could bring the event back: the ledger behind exactly-once in effect."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

# A day past Kafka's 7-day retention: no redelivery can bring back an older event.
KEPT = timedelta(days=8)
FORGET_EVERY_S = 600.0
_BATCH = 10_000  # rows per delete: a bounded statement, however much has piled up


async def forget_older_than(pool: asyncpg.Pool, older_than: timedelta) -> int:
    """Drops one bounded batch of ids seen longer ago than `older_than`; how many went."""
    status = await pool.execute(
        "DELETE FROM seen_events WHERE event_id IN (SELECT event_id FROM seen_events "
        "WHERE seen_at < now() - $1::interval LIMIT $2)",
        older_than,
        _BATCH,
    )
    return int(status.split()[-1])


async def forget_forever(pool: asyncpg.Pool) -> None:
    """Every FORGET_EVERY_S, drops every id older than KEPT (run as a background loop)."""
    while True:
        while await forget_older_than(pool, KEPT):
            pass
        await asyncio.sleep(FORGET_EVERY_S)
