"""The accounts service's Postgres: accounts, invitations, suspensions and their events;
it implements ports.AccountRepository (the decisions are in service.py).

Follows are in follow_store. No method holds a pooled connection while it acquires
another: enough concurrent calls doing so would take the whole pool and wait for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.accounts.domain import AccountNotFound, Invitation, NewAccount, NewInvitation
from shared import outbox
from shared.events import AccountChanged
from shared.timeutil import rfc3339, utcnow

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
        changed_at=rfc3339(utcnow()),
    )


class AccountStore:
    """ports.AccountRepository on Postgres, and the account reads the API serves."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AccountTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield AccountTransaction(conn)

    async def account(self, account_id: int) -> asyncpg.Record:
        """An account; AccountNotFound otherwise."""
        row = await self.pool.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1", account_id
        )
        if row is None:
            raise AccountNotFound("account not found", account_id=str(account_id))
        return row

    async def account_by_handle(self, handle: str) -> asyncpg.Record:
        """The account of a handle; AccountNotFound otherwise."""
        row = await self.pool.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE handle = $1", handle
        )
        if row is None:
            raise AccountNotFound("account not found", handle=handle)
        return row


class AccountTransaction:
    """ports.AccountTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_invitations(self, codes: list[str]) -> dict[str, Invitation]:
        rows = await self.conn.fetch(
            "SELECT code, max_uses, uses, expires_at, kinds FROM invitations "
            "WHERE code = ANY($1::text[]) ORDER BY code FOR UPDATE",
            codes,
        )
        return {
            r["code"]: Invitation(
                r["code"], r["max_uses"], r["uses"], r["expires_at"], tuple(r["kinds"])
            )
            for r in rows
        }

    async def set_invitation_uses(self, uses: dict[str, int]) -> None:
        await self.conn.execute(
            "UPDATE invitations i SET uses = d.uses FROM unnest($1::text[], $2::int[]) "
            "AS d(code, uses) WHERE i.code = d.code",
            list(uses),
            list(uses.values()),
        )

    async def add_accounts(self, accounts: list[tuple[int, NewAccount]]) -> list[asyncpg.Record]:
        created = await self.conn.fetch(
            f"INSERT INTO accounts (id, handle, kind, display_name, category) "
            f"SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
            f"$5::text[]) ON CONFLICT (handle) DO NOTHING RETURNING {ACCOUNT_COLUMNS}",
            [a for a, _ in accounts],
            [n.handle for _, n in accounts],
            [n.kind for _, n in accounts],
            [n.display_name for _, n in accounts],
            [n.category for _, n in accounts],
        )
        if created:
            await outbox.enqueue(
                self.conn, SCHEMA, *(account_changed(r, "created") for r in created)
            )
        return created

    async def add_invitation(
        self, code: str, new: NewInvitation, kinds: list[str], created_by: str
    ) -> asyncpg.Record:
        return await self.conn.fetchrow(
            "INSERT INTO invitations (code, max_uses, expires_at, kinds, created_by) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING code, max_uses, uses, expires_at, kinds",
            code,
            new.max_uses,
            new.expires_at,
            kinds,
            created_by,
        )

    async def set_status(self, account_id: int, status: str) -> None:
        row = await self.conn.fetchrow(
            f"UPDATE accounts SET status = $2, version = version + 1 "
            f"WHERE id = $1 AND status <> $2 RETURNING {ACCOUNT_COLUMNS}",
            account_id,
            status,
        )
        if row is None:
            # 404 when it does not exist. On this connection: asking the pool for a
            # second one while holding this one deadlocks once enough calls do so.
            if not await self.conn.fetchval("SELECT 1 FROM accounts WHERE id = $1", account_id):
                raise AccountNotFound("account not found", account_id=str(account_id))
            return
        change = "suspended" if status == "suspended" else "unsuspended"
        await outbox.enqueue(self.conn, SCHEMA, account_changed(row, change))
