"""post.tallied: after a change of a post's tallies, its version is bumped and the event
enqueued, both in the change's transaction (shared.events.PostTallied)."""

from __future__ import annotations

import asyncpg

from services.publishing.store import SCHEMA
from shared import outbox
from shared.events import PostTallied


async def announce(conn: asyncpg.Connection, post_id: int) -> None:
    """Bumps the post's tally_version and enqueues post.tallied with its tallies now.
    Callers hold the post's row lock (or change its tallies in this statement's
    transaction), so versions follow the order the changes were made in."""
    row = await conn.fetchrow(
        "UPDATE posts SET tally_version = tally_version + 1 WHERE id = $1 RETURNING "
        "id, account_id, tally_version, vote_counts, group_buy_participants, group_buy_state",
        post_id,
    )
    counts = row["vote_counts"]
    event = PostTallied(
        post_id=str(row["id"]),
        account_id=str(row["account_id"]),
        tally_version=row["tally_version"],
        vote_counts=list(counts) if counts is not None else None,
        vote_total=sum(counts) if counts is not None else None,
        group_buy_participants=row["group_buy_participants"],
        group_buy_state=row["group_buy_state"],
    )
    await outbox.enqueue(conn, SCHEMA, event)
