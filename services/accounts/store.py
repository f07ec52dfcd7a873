"""The accounts service's Postgres: accounts, invitations, follows and their events (outbox)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.accounts.domain import (
    AccountNotFound,
    HandleTaken,
    Invitation,
    InvitationInvalid,
    NewAccount,
    check_follow,
    invitation_refusal,
)
from shared import outbox
from shared.events import AccountChanged, FollowChanged
from shared.timeutil import rfc3339

SCHEMA = "accounts"
ACCOUNT_COLUMNS = (
    "id, handle, kind, display_name, category, status, followers_count, following_count, "
    "version, created_at"
)


def account_changed(row: asyncpg.Record, change: str) -> AccountChanged:
    return AccountChanged(
        account_id=str(row["id"]),
        handle=row["handle"],
        kind=row["kind"],
        display_name=row["display_name"],
        category=row["category"],
        status=row["status"],
        created_at=rfc3339(row["created_at"]),
        change=change,
        version=row["version"],
    )


class AccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_account(
        self, account_id: int, new: NewAccount, now: datetime
    ) -> asyncpg.Record:
        """Inserts the account, using its invitation atomically; both or neither happen."""
        async with self.pool.acquire() as conn, conn.transaction():
            if new.invitation_code is not None and new.kind != "consumer":
                await self._use_invitation(conn, new.invitation_code, new.kind, now)
            try:
                row = await conn.fetchrow(
                    f"INSERT INTO accounts (id, handle, kind, display_name, category) "
                    f"VALUES ($1, $2, $3, $4, $5) RETURNING {ACCOUNT_COLUMNS}",
                    account_id,
                    new.handle,
                    new.kind,
                    new.display_name,
                    new.category,
                )
            except asyncpg.UniqueViolationError:
                raise HandleTaken(f"handle {new.handle!r} is taken", handle=new.handle) from None
            await outbox.enqueue(conn, SCHEMA, account_changed(row, "created"))
            return row

    async def _use_invitation(
        self, conn: asyncpg.Connection, code: str, kind: str, now: datetime
    ) -> None:
        # The conditional UPDATE is the atomic use: concurrent sign-ups queue on the row
        # lock and each re-checks `uses < max_uses`, so max_uses is never exceeded.
        used = await conn.fetchval(
            "UPDATE invitations SET uses = uses + 1 WHERE code = $1 AND uses < max_uses "
            "AND (expires_at IS NULL OR expires_at > $2) AND $3 = ANY(kinds) RETURNING uses",
            code,
            now,
            kind,
        )
        if used is not None:
            return
        row = await conn.fetchrow(
            "SELECT code, max_uses, uses, expires_at, kinds FROM invitations WHERE code = $1",
            code,
        )
        invitation = (
            None
            if row is None
            else Invitation(
                row["code"], row["max_uses"], row["uses"], row["expires_at"], tuple(row["kinds"])
            )
        )
        reason = invitation_refusal(invitation, kind, now) or "used_up"
        raise InvitationInvalid(f"invitation code is not valid ({reason})", reason=reason)

    async def create_invitation(
        self,
        code: str,
        max_uses: int,
        expires_at: datetime | None,
        kinds: list[str],
        created_by: str,
    ) -> asyncpg.Record:
        return await self.pool.fetchrow(
            "INSERT INTO invitations (code, max_uses, expires_at, kinds, created_by) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING code, max_uses, uses, expires_at, kinds",
            code,
            max_uses,
            expires_at,
            kinds,
            created_by,
        )

    async def account(self, account_id: int) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", account_id
        )
        if row is None:
            raise AccountNotFound("account not found", account_id=str(account_id))
        return row

    async def account_by_handle(self, handle: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE handle = $1", handle
        )
        if row is None:
            raise AccountNotFound("account not found", handle=handle)
        return row

    async def follow(self, user_id: int, account_id: int, source: str) -> bool:
        """Makes user follow account; False when it already did (nothing changes then)."""
        async with self.pool.acquire() as conn, conn.transaction():
            kinds = await self._kinds(conn, user_id, account_id)
            check_follow(user_id, account_id, kinds[account_id])
            row = await conn.fetchrow(
                "INSERT INTO follows (user_id, account_id, active, version, source, seq, "
                "followed_at) VALUES ($1, $2, true, 1, $3, nextval('follow_seq'), now()) "
                "ON CONFLICT (user_id, account_id) DO UPDATE SET active = true, "
                "version = follows.version + 1, source = EXCLUDED.source, seq = EXCLUDED.seq, "
                "followed_at = EXCLUDED.followed_at WHERE NOT follows.active "
                "RETURNING version, followed_at",
                user_id,
                account_id,
                source,
            )
            if row is None:
                return False
            await self._count(conn, user_id, account_id, +1)
            await outbox.enqueue(
                conn,
                SCHEMA,
                FollowChanged(
                    user_id=str(user_id),
                    account_id=str(account_id),
                    following=True,
                    source=source,
                    version=row["version"],
                    at=rfc3339(row["followed_at"]),
                ),
            )
            return True

    async def unfollow(self, user_id: int, account_id: int, now: datetime) -> bool:
        """Ends a follow; False when there was none (nothing changes then)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._kinds(conn, user_id, account_id)
            row = await conn.fetchrow(
                "UPDATE follows SET active = false, version = version + 1 "
                "WHERE user_id = $1 AND account_id = $2 AND active RETURNING version, source",
                user_id,
                account_id,
            )
            if row is None:
                return False
            await self._count(conn, user_id, account_id, -1)
            await outbox.enqueue(
                conn,
                SCHEMA,
                FollowChanged(
                    user_id=str(user_id),
                    account_id=str(account_id),
                    following=False,
                    source=row["source"],
                    version=row["version"],
                    at=rfc3339(now),
                ),
            )
            return True

    async def _kinds(self, conn: asyncpg.Connection, *ids: int) -> dict[int, str]:
        rows = await conn.fetch(
            "SELECT id, kind FROM accounts WHERE id = ANY($1::bigint[])", list(ids)
        )
        kinds = {r["id"]: r["kind"] for r in rows}
        for account_id in ids:
            if account_id not in kinds:
                raise AccountNotFound("account not found", account_id=str(account_id))
        return kinds

    async def _count(
        self, conn: asyncpg.Connection, user_id: int, account_id: int, delta: int
    ) -> None:
        # Update both rows in id order: two accounts following each other at once
        # would otherwise lock them in opposite orders and deadlock.
        for row_id in sorted((user_id, account_id)):
            await conn.execute(
                "UPDATE accounts SET "
                "followers_count = followers_count + CASE WHEN id = $2 THEN $3 ELSE 0 END, "
                "following_count = following_count + CASE WHEN id = $4 THEN $3 ELSE 0 END "
                "WHERE id = $1",
                row_id,
                account_id,
                delta,
                user_id,
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
        await self.account(account_id)  # 404 for an unknown account, not an empty page
        columns = ", ".join(f"a.{c}" for c in ACCOUNT_COLUMNS.split(", "))
        return await self.pool.fetch(
            f"SELECT f.seq, {columns} FROM follows f JOIN accounts a ON a.id = f.{other} "
            f"WHERE f.{side} = $1 AND f.active AND f.seq < $2 ORDER BY f.seq DESC LIMIT $3",
            account_id,
            before_seq if before_seq is not None else 2**63 - 1,
            limit,
        )

    async def set_status(self, account_id: int, status: str) -> None:
        """Suspends or reinstates an account; a no-op (no event) when it already is so."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE accounts SET status = $2, version = version + 1 "
                f"WHERE id = $1 AND status <> $2 RETURNING {ACCOUNT_COLUMNS}",
                account_id,
                status,
            )
            if row is None:
                await self.account(account_id)  # 404 when it does not exist
                return
            change = "suspended" if status == "suspended" else "unsuspended"
            await outbox.enqueue(conn, SCHEMA, account_changed(row, change))
