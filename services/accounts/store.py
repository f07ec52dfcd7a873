"""The accounts service's Postgres: accounts, invitations, suspensions and their events.

Follows are in follow_store. No method holds a pooled connection while it acquires
another: enough concurrent calls doing so would take the whole pool and wait for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import asyncpg

from services.accounts.domain import (
    OPERATOR_KINDS,
    AccountNotFound,
    AccountsError,
    HandleTaken,
    Invitation,
    InvitationInvalid,
    NewAccount,
    check_new_account,
    invitation_refusal,
)
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


@dataclass
class Outcome:
    """What a batch did: what it created or changed, and which items were refused, why."""

    created: list[asyncpg.Record] = field(default_factory=list)
    changed: int = 0
    refused: list[tuple[int, AccountsError]] = field(default_factory=list)

    def raise_first_refusal(self) -> None:
        if self.refused:
            raise self.refused[0][1]


class AccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_account(
        self, account_id: int, new: NewAccount, now: datetime
    ) -> asyncpg.Record:
        """Inserts the account, using its invitation atomically; both or neither happen."""
        outcome = await self.create_accounts([(account_id, new)], now)
        outcome.raise_first_refusal()
        return outcome.created[0]

    async def create_accounts(self, batch: list[tuple[int, NewAccount]], now: datetime) -> Outcome:
        """Creates many accounts in one transaction with the rules of one at a time.

        Invitation rows are locked (in code order) and re-read under the lock, so uses
        never pass max_uses however many sign-ups race; refusals are listed by index.
        """
        outcome = Outcome()
        async with self.pool.acquire() as conn, conn.transaction():
            codes = sorted(
                {
                    n.invitation_code
                    for _, n in batch
                    if n.kind in OPERATOR_KINDS and n.invitation_code
                }
            )
            rows = await conn.fetch(
                "SELECT code, max_uses, uses, expires_at, kinds FROM invitations "
                "WHERE code = ANY($1::text[]) ORDER BY code FOR UPDATE",
                codes,
            )
            invitations = {
                r["code"]: Invitation(
                    r["code"], r["max_uses"], r["uses"], r["expires_at"], tuple(r["kinds"])
                )
                for r in rows
            }
            uses = {code: inv.uses for code, inv in invitations.items()}
            admitted: dict[str, tuple[int, int, NewAccount]] = {}
            for index, (account_id, new) in enumerate(batch):
                try:
                    check_new_account(new)
                    if new.handle in admitted:
                        raise HandleTaken(f"handle {new.handle!r} is taken", handle=new.handle)
                    if new.kind in OPERATOR_KINDS:
                        code = new.invitation_code or ""
                        known = invitations.get(code)
                        current = replace(known, uses=uses[code]) if known else None
                        reason = invitation_refusal(current, new.kind, now)
                        if reason:
                            raise InvitationInvalid(
                                f"invitation code is not valid ({reason})", reason=reason
                            )
                        uses[code] += 1
                    admitted[new.handle] = (index, account_id, new)
                except AccountsError as refusal:
                    outcome.refused.append((index, refusal))
            chosen = list(admitted.values())
            created = await conn.fetch(
                f"INSERT INTO accounts (id, handle, kind, display_name, category) "
                f"SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
                f"$5::text[]) ON CONFLICT (handle) DO NOTHING RETURNING {ACCOUNT_COLUMNS}",
                [a for _, a, _ in chosen],
                [n.handle for _, _, n in chosen],
                [n.kind for _, _, n in chosen],
                [n.display_name for _, _, n in chosen],
                [n.category for _, _, n in chosen],
            )
            made = {r["handle"] for r in created}
            for index, _, new in chosen:
                if new.handle not in made:  # taken by an account that existed before
                    outcome.refused.append(
                        (index, HandleTaken(f"handle {new.handle!r} is taken", handle=new.handle))
                    )
                    if new.kind in OPERATOR_KINDS:
                        uses[new.invitation_code or ""] -= 1
            used = [(c, n) for c, n in uses.items() if n != invitations[c].uses]
            if used:
                await conn.execute(
                    "UPDATE invitations i SET uses = d.uses FROM unnest($1::text[], $2::int[]) "
                    "AS d(code, uses) WHERE i.code = d.code",
                    [c for c, _ in used],
                    [n for _, n in used],
                )
            if created:
                await outbox.enqueue(
                    conn, SCHEMA, *(account_changed(r, "created") for r in created)
                )
            order = {new.handle: index for index, _, new in chosen}
            outcome.created = sorted(created, key=lambda r: order[r["handle"]])
            outcome.refused.sort(key=lambda item: item[0])
            return outcome

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
                # 404 when it does not exist. On this connection: asking the pool for a
                # second one while holding this one deadlocks once enough calls do so.
                if not await conn.fetchval("SELECT 1 FROM accounts WHERE id = $1", account_id):
                    raise AccountNotFound("account not found", account_id=str(account_id))
                return
            change = "suspended" if status == "suspended" else "unsuspended"
            await outbox.enqueue(conn, SCHEMA, account_changed(row, change))
