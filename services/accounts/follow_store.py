"""The accounts service's Postgres side of follows: who follows whom, the counts on both
accounts, the per-user following limit and the follow.changed events (outbox)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import asyncpg

from services.accounts.domain import (
    AccountNotFound,
    AccountsError,
    check_follow,
    follows_past_limit,
)
from services.accounts.store import ACCOUNT_COLUMNS, SCHEMA, Outcome
from shared import outbox
from shared.events import FollowChanged
from shared.timeutil import rfc3339, utcnow

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
# once would otherwise lock them in opposite orders and deadlock. Held to the commit, so
# following_count is exact for the limit and no concurrent follow can overshoot it.
# NO KEY UPDATE, because the follows foreign keys take KEY SHARE locks on these rows.
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


def _columns(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [u for u, _ in pairs], [a for _, a in pairs]


class FollowStore:
    def __init__(self, pool: asyncpg.Pool, following_limit: int) -> None:
        self.pool = pool
        self.following_limit = following_limit

    async def follow(self, user_id: int, account_id: int, source: str) -> bool:
        """Makes user follow account; False when it already did (nothing changes then)."""
        outcome = await self.change_follows([(user_id, account_id)], True, source, utcnow())
        outcome.raise_first_refusal()
        return outcome.changed == 1

    async def unfollow(self, user_id: int, account_id: int, now: datetime) -> bool:
        """Ends a follow; False when there was none (nothing changes then)."""
        outcome = await self.change_follows([(user_id, account_id)], False, "api", now)
        outcome.raise_first_refusal()
        return outcome.changed == 1

    async def change_follows(
        self, pairs: list[tuple[int, int]], following: bool, source: str, now: datetime
    ) -> Outcome:
        """Follows (or unfollows) many (user, account) pairs in one transaction, with the
        same rules and events as one at a time; pairs breaking a rule are refused, by index.
        """
        outcome = Outcome()
        async with self.pool.acquire() as conn, conn.transaction():
            ids = sorted({i for pair in pairs for i in pair})
            rows = {r["id"]: r for r in await conn.fetch(_LOCK_ACCOUNTS, ids)}
            valid: list[tuple[int, tuple[int, int]]] = []
            for index, (user_id, account_id) in enumerate(pairs):
                try:
                    for one in (user_id, account_id):
                        if one not in rows:
                            raise AccountNotFound("account not found", account_id=str(one))
                    if following:
                        check_follow(user_id, account_id, rows[account_id]["kind"])
                    valid.append((index, (user_id, account_id)))
                except AccountsError as refusal:
                    outcome.refused.append((index, refusal))
            if following and valid:
                active = await conn.fetch(_ACTIVE, *_columns([p for _, p in valid]))
                past_limit = follows_past_limit(
                    valid,
                    {i: r["following_count"] for i, r in rows.items()},
                    {(r["user_id"], r["account_id"]) for r in active},
                    self.following_limit,
                )
                outcome.refused.extend(past_limit)
                refused_now = {index for index, _ in past_limit}
                valid = [(index, pair) for index, pair in valid if index not in refused_now]
            outcome.refused.sort(key=lambda item: item[0])
            # Sorted, so that concurrent batches lock follow rows in one order.
            users, accounts = _columns(sorted({pair for _, pair in valid}))
            if following:
                changed = await conn.fetch(_FOLLOW, users, accounts, source, now)
            else:
                changed = await conn.fetch(_UNFOLLOW, users, accounts)
            if not changed:
                return outcome
            await self._count(conn, changed, +1 if following else -1)
            await outbox.enqueue(
                conn,
                SCHEMA,
                *(follow_changed(r, following, now) for r in changed),
            )
            outcome.changed = len(changed)
            return outcome

    async def _count(
        self, conn: asyncpg.Connection, changed: list[asyncpg.Record], delta: int
    ) -> None:
        """Moves both counts of each changed follow (its account rows are already locked)."""
        followers = Counter(r["account_id"] for r in changed)
        following = Counter(r["user_id"] for r in changed)
        ids = sorted(followers.keys() | following.keys())
        await conn.execute(
            "UPDATE accounts a SET followers_count = a.followers_count + d.followers, "
            "following_count = a.following_count + d.following "
            "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(id, followers, following) "
            "WHERE a.id = d.id",
            ids,
            [followers[i] * delta for i in ids],
            [following[i] * delta for i in ids],
        )

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
