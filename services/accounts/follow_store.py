"""The accounts service's Postgres side of follows: who follows whom, the counts on both
accounts and the follow.changed events (outbox). It implements ports.FollowRepository
(the rules, the following limit among them, are decided in service.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from services.accounts.domain import AccountNotFound
from services.accounts.ports import FollowSide, Pair
from services.accounts.store import ACCOUNT_COLUMNS, SCHEMA
from shared import outbox
from shared.events import FollowChanged
from shared.timeutil import rfc3339

_FOLLOW = (
    "INSERT INTO follows (user_id, account_id, active, version, source, seq, followed_at) "
    "SELECT u, a, true, 1, $3, nextval('follow_seq'), $4 "
    "FROM unnest($1::bigint[], $2::bigint[]) AS p(u, a) "
    "ON CONFLICT (user_id, account_id) DO UPDATE SET active = true, "
    "version = follows.version + 1, source = EXCLUDED.source, seq = EXCLUDED.seq, "
    "followed_at = EXCLUDED.followed_at WHERE NOT follows.active "
    "RETURNING user_id, account_id, version, source"
)
_UNFOLLOW = (
    "UPDATE follows f SET active = false, version = f.version + 1 "
    "FROM unnest($1::bigint[], $2::bigint[]) AS p(u, a) "
    "WHERE f.user_id = p.u AND f.account_id = p.a AND f.active "
    "RETURNING f.user_id, f.account_id, f.version, f.source"
)
# Every account of the batch, locked in id order: two accounts following each other at
# once would otherwise lock them in opposite orders and deadlock. NO KEY UPDATE, because
# the follows foreign keys take KEY SHARE locks on these rows.
_LOCK_ACCOUNTS = (
    "SELECT id, kind, following_count FROM accounts WHERE id = ANY($1::bigint[]) "
    "ORDER BY id FOR NO KEY UPDATE"
)
_ACTIVE = (
    "SELECT f.user_id, f.account_id FROM follows f "
    "JOIN unnest($1::bigint[], $2::bigint[]) AS p(u, a) "
    "ON f.user_id = p.u AND f.account_id = p.a WHERE f.active"
)


def follow_changed(row: asyncpg.Record, following: bool, at: datetime) -> FollowChanged:
    """The event of a follow row (user_id, account_id, version, source) changed at `at`."""
    return FollowChanged(
        user_id=str(row["user_id"]),
        account_id=str(row["account_id"]),
        following=following,
        source=row["source"],
        version=row["version"],
        at=rfc3339(at),
    )


def _columns(pairs: list[Pair]) -> tuple[list[int], list[int]]:
    return [u for u, _ in pairs], [a for _, a in pairs]


class FollowStore:
    """ports.FollowRepository on Postgres, and the follow pages the API serves."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FollowTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield FollowTransaction(conn)

    async def following(
        self, user_id: int, limit: int, before_seq: int | None
    ) -> list[asyncpg.Record]:
        """Accounts user follows, newest follow first, each with the follow's seq (cursor)."""
        return await self._follow_page("user_id", "account_id", user_id, limit, before_seq)

    async def followers(
        self, account_id: int, limit: int, before_seq: int | None
    ) -> list[asyncpg.Record]:
        """Accounts following account_id, newest follow first, each with the follow's seq."""
        return await self._follow_page("account_id", "user_id", account_id, limit, before_seq)

    async def _follow_page(
        self, side: str, other: str, account_id: int, limit: int, before_seq: int | None
    ) -> list[asyncpg.Record]:
        columns = ", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS.split(", "))
        async with self.pool.acquire() as conn:
            # 404 for an unknown account, not an empty page
            if not await conn.fetchval("SELECT 1 FROM accounts WHERE id = $1", account_id):
                raise AccountNotFound("account not found", account_id=str(account_id))
            return await conn.fetch(
                f"SELECT f.seq, {columns} FROM follows f JOIN accounts a ON a.id = f.{other} "
                f"WHERE f.{side} = $1 AND f.active AND f.seq < $2 ORDER BY f.seq DESC LIMIT $3",
                account_id,
                before_seq if before_seq is not None else 2**63 - 1,
                limit,
            )


class FollowTransaction:
    """ports.FollowTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_accounts(self, account_ids: list[int]) -> dict[int, FollowSide]:
        rows = await self.conn.fetch(_LOCK_ACCOUNTS, account_ids)
        return {r["id"]: FollowSide(r["kind"], r["following_count"]) for r in rows}

    async def active_follows(self, pairs: list[Pair]) -> set[Pair]:
        return {
            (r["user_id"], r["account_id"])
            for r in await self.conn.fetch(_ACTIVE, *_columns(pairs))
        }

    async def change_follows(
        self, pairs: list[Pair], following: bool, source: str, now: datetime
    ) -> int:
        users, accounts = _columns(pairs)
        if following:
            changed = await self.conn.fetch(_FOLLOW, users, accounts, source, now)
        else:
            changed = await self.conn.fetch(_UNFOLLOW, users, accounts)
        if changed:
            await self._count(changed, +1 if following else -1)
            await outbox.enqueue(
                self.conn, SCHEMA, *(follow_changed(r, following, now) for r in changed)
            )
        return len(changed)

    async def _count(self, changed: list[asyncpg.Record], delta: int) -> None:
        """Moves both counts of each changed follow (its account rows are already locked)."""
        followers = Counter(r["account_id"] for r in changed)
        following = Counter(r["user_id"] for r in changed)
        ids = sorted(followers.keys() | following.keys())
        await self.conn.execute(
            "UPDATE accounts a SET followers_count = a.followers_count + d.followers, "
            "following_count = a.following_count + d.following "
            "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, followers, following) "
            "WHERE a.id = d.id",
            ids,
            [followers[i] * delta for i in ids],
            [following[i] * delta for i in ids],
        )
