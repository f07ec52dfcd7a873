"""Fan-out's Postgres projection: who follows whom, account modes and suspensions, and
deleted posts.

Follow and account events carry versions; the projection keeps the highest. An applied
event reports whether it is the stored state (newly stored, or redelivered with the
stored version: its feed work is done again, since a failure may have cut it short) or
superseded by a newer one (nothing to do: the newer event does the work).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import asyncpg

from services.fanout.domain import (
    EVERY_FOLLOWER,
    AccountApplied,
    AccountMode,
    AccountState,
    ChunkBounds,
    FollowsApplied,
)
from shared.events import AccountChanged, FollowChanged, newest_per_entity


class Projection:
    """The follow projection in Postgres (the fanout schema)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def apply_follows(self, events: list[FollowChanged]) -> FollowsApplied:
        """Records a batch of follow changes, each unless a newer one is known; returns
        those that are the stored state and each of their accounts after the batch."""
        latest = newest_per_entity(events)
        async with self.pool.acquire() as conn, conn.transaction():
            current = await conn.fetch(
                "WITH incoming AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], "
                "  $3::boolean[], $4::bigint[]) AS i(account_id, user_id, active, version)), "
                "old AS (SELECT f.account_id, f.user_id, f.active, f.version FROM follows f "
                "  JOIN incoming i USING (account_id, user_id)), "
                "upserted AS (INSERT INTO follows SELECT * FROM incoming "
                "  ON CONFLICT (account_id, user_id) DO UPDATE SET active = EXCLUDED.active, "
                "  version = EXCLUDED.version WHERE follows.version < EXCLUDED.version "
                "  RETURNING account_id, user_id) "
                "SELECT i.account_id, i.user_id, i.active, u.account_id IS NOT NULL "
                "  AND COALESCE(o.active, false) <> i.active AS flipped "
                "FROM incoming i LEFT JOIN upserted u USING (account_id, user_id) "
                "LEFT JOIN old o USING (account_id, user_id) "
                "WHERE u.account_id IS NOT NULL OR o.version = i.version",
                [int(e.account_id) for e in latest],
                [int(e.user_id) for e in latest],
                [e.following for e in latest],
                [e.version for e in latest],
            )
            delta: Counter[int] = Counter()
            for row in current:
                if row["flipped"]:
                    delta[row["account_id"]] += 1 if row["active"] else -1
            changed = sorted(delta)
            # Insert-then-update: a VALUES row of -1 would fail the CHECK before ON CONFLICT.
            await conn.execute(
                "INSERT INTO account_modes (account_id) SELECT unnest($1::bigint[]) "
                "ON CONFLICT DO NOTHING",
                changed,
            )
            await conn.execute(
                "UPDATE account_modes m SET followers = m.followers + d.delta "
                "FROM unnest($1::bigint[], $2::bigint[]) AS d(account_id, delta) "
                "WHERE m.account_id = d.account_id",
                changed,
                [delta[a] for a in changed],
            )
            states = await conn.fetch(
                "SELECT a.account_id, COALESCE(m.followers, 0) AS followers, "
                "COALESCE(m.pull, false) AS pull, COALESCE(m.copy_pending, false) AS pending, "
                "COALESCE(s.suspended, false) AS suspended "
                "FROM unnest($1::bigint[]) AS a(account_id) "
                "LEFT JOIN account_modes m USING (account_id) "
                "LEFT JOIN suspended_accounts s USING (account_id)",
                sorted({r["account_id"] for r in current}),
            )
        return FollowsApplied(
            [(r["account_id"], r["user_id"], r["active"]) for r in current],
            {
                r["account_id"]: AccountState(
                    r["followers"], r["pull"], r["pending"], r["suspended"]
                )
                for r in states
            },
        )

    async def apply_accounts(self, events: list[AccountChanged]) -> list[AccountApplied]:
        """Records whether accounts are suspended; returns the events that are the stored
        state, each with whether it flipped that."""
        latest = newest_per_entity(events)
        current = await self.pool.fetch(
            "WITH incoming AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) "
            "  AS i(account_id, version, suspended)), "
            "old AS (SELECT s.account_id, s.suspended, s.version FROM suspended_accounts s "
            "  JOIN incoming i USING (account_id)), "
            "upserted AS (INSERT INTO suspended_accounts SELECT * FROM incoming "
            "  ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version, "
            "  suspended = EXCLUDED.suspended WHERE suspended_accounts.version < EXCLUDED.version "
            "  RETURNING account_id) "
            "SELECT i.account_id, u.account_id IS NOT NULL "
            "  AND COALESCE(o.suspended, false) <> i.suspended AS flipped "
            "FROM incoming i LEFT JOIN upserted u USING (account_id) "
            "LEFT JOIN old o USING (account_id) "
            "WHERE u.account_id IS NOT NULL OR o.version = i.version",
            [int(e.account_id) for e in latest],
            [e.version for e in latest],
            [e.status == "suspended" for e in latest],
        )
        flipped = {str(r["account_id"]): r["flipped"] for r in current}
        return [AccountApplied(e, flipped[e.account_id]) for e in latest if e.account_id in flipped]

    async def account_version(self, account_id: int) -> int:
        """The version of the account's stored state (0: none known)."""
        return await self.pool.fetchval(
            "SELECT COALESCE(max(version), 0) FROM suspended_accounts WHERE account_id = $1",
            account_id,
        )

    async def is_suspended(self, account_id: int) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT suspended FROM suspended_accounts WHERE account_id = $1", account_id
            )
        )

    async def mode(self, account_id: int) -> AccountMode:
        row = await self.pool.fetchrow(
            "SELECT followers, pull FROM account_modes WHERE account_id = $1", account_id
        )
        return AccountMode(row["followers"], row["pull"]) if row else AccountMode(0, False)

    async def set_mode(self, account_id: int, pull: bool, copy_pending: bool = False) -> None:
        """Records whether the account is pulled (the truth posts are routed by)."""
        await self.pool.execute(
            "UPDATE account_modes SET pull = $2, copy_pending = $3 WHERE account_id = $1",
            account_id,
            pull,
            copy_pending,
        )

    async def pulled_accounts(self) -> set[bytes]:
        rows = await self.pool.fetch("SELECT account_id FROM account_modes WHERE pull")
        return {str(r["account_id"]).encode() for r in rows}

    async def chunk_end(self, account_id: int, after_user: int, size: int) -> int | None:
        """The user id ending the chunk of `size` followers after `after_user` (in id
        order), or None when fewer remain. One index range scan of `size` entries."""
        return await self.pool.fetchval(
            "SELECT user_id FROM follows WHERE account_id = $1 AND active AND user_id > $2 "
            "ORDER BY user_id OFFSET $3 LIMIT 1",
            account_id,
            after_user,
            size - 1,
        )

    async def followers_in(
        self, account_id: int, bounds: ChunkBounds, limit: int | None = None
    ) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT user_id FROM follows WHERE account_id = $1 AND active AND user_id > $2 "
            "AND ($3::bigint IS NULL OR user_id <= $3) ORDER BY user_id LIMIT $4",
            account_id,
            bounds.after_user,
            bounds.through_user,
            limit,
        )
        return [r["user_id"] for r in rows]

    async def follower_chunks(
        self, account_id: int, size: int, bounds: ChunkBounds = EVERY_FOLLOWER
    ) -> AsyncIterator[list[int]]:
        """The account's current followers within `bounds`, in chunks, by keyset pages
        (no long cursor)."""
        after = bounds.after_user
        while True:
            users = await self.followers_in(
                account_id, ChunkBounds(after, bounds.through_user), size
            )
            if not users:
                return
            yield users
            if len(users) < size:
                return
            after = users[-1]

    async def followed_accounts(self, user_id: int) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT f.account_id FROM follows f LEFT JOIN account_modes m USING (account_id) "
            "LEFT JOIN suspended_accounts s USING (account_id) WHERE f.user_id = $1 "
            "AND f.active AND NOT COALESCE(m.pull, false) AND NOT COALESCE(s.suspended, false)",
            user_id,
        )
        return [r["account_id"] for r in rows]

    async def mark_deleted(self, post_id: int) -> None:
        await self.pool.execute(
            "INSERT INTO deleted_posts (post_id) VALUES ($1) ON CONFLICT DO NOTHING", post_id
        )

    async def is_deleted(self, post_id: int) -> bool:
        return bool(
            await self.pool.fetchval("SELECT true FROM deleted_posts WHERE post_id = $1", post_id)
        )
