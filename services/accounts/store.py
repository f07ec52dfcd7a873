"""The accounts service's Postgres: accounts, invitations, follows and their events (outbox)."""

from __future__ import annotations

from collections import Counter
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
    check_follow,
    check_new_account,
    invitation_refusal,
)
from shared import outbox
from shared.events import AccountChanged, FollowChanged
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
    )


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


@dataclass
class Outcome:
    """What a batch did: what it created or changed, and which items were refused, why."""

    created: list[asyncpg.Record] = field(default_factory=list)
    changed: int = 0
    refused: list[tuple[int, AccountsError]] = field(default_factory=list)

    def raise_first_refusal(self) -> None:
        if self.refused:
            raise self.refused[0][1]


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
            rows = await conn.fetch(
                "SELECT id, kind FROM accounts WHERE id = ANY($1::bigint[])", ids
            )
            kinds = {r["id"]: r["kind"] for r in rows}
            valid: set[tuple[int, int]] = set()
            for index, (user_id, account_id) in enumerate(pairs):
                try:
                    for one in (user_id, account_id):
                        if one not in kinds:
                            raise AccountNotFound("account not found", account_id=str(one))
                    if following:
                        check_follow(user_id, account_id, kinds[account_id])
                    valid.add((user_id, account_id))
                except AccountsError as refusal:
                    outcome.refused.append((index, refusal))
            # Sorted, so that concurrent batches lock follow rows in one order.
            users, accounts = (
                (list(c) for c in zip(*sorted(valid), strict=True)) if valid else ([], [])
            )
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
        followers = Counter(r["account_id"] for r in changed)
        following = Counter(r["user_id"] for r in changed)
        ids = sorted(followers.keys() | following.keys())
        # Lock the account rows in id order first: two accounts following each other at
        # once would otherwise lock them in opposite orders and deadlock. NO KEY UPDATE,
        # because the follows foreign keys already hold KEY SHARE locks on these rows.
        await conn.execute(
            "SELECT 1 FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            ids,
        )
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
