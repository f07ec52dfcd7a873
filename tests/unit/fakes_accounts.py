"""In-memory fakes of accounts' ports (ports.AccountRepository, FollowRepository and
their transactions), after cosmicpython's FakeRepository/FakeUnitOfWork."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.accounts import domain
from services.accounts.ports import FollowSide, Pair


class FakeAccounts:
    """Accounts, invitations, follows and the outbox in memory, one store for both
    repositories (as one database is); a transaction that raises leaves them as they were."""

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, Any]] = {}
        self.invitations: dict[str, domain.Invitation] = {}
        self.follows: set[Pair] = set()
        self.outbox: list[tuple[str, Any]] = []  # (event, subject)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FakeTransaction]:
        saved = copy.deepcopy(self.__dict__)
        try:
            yield FakeTransaction(self)
        except BaseException:
            self.__dict__.update(saved)
            raise

    def add(self, account_id: int, handle: str, kind: str) -> None:
        """An account that existed before the test."""
        self.accounts[account_id] = {
            "id": account_id,
            "handle": handle,
            "kind": kind,
            "status": "active",
            "followers_count": 0,
            "following_count": 0,
        }


class FakeTransaction:
    def __init__(self, db: FakeAccounts) -> None:
        self.db = db

    async def lock_invitations(self, codes: list[str]) -> dict[str, domain.Invitation]:
        return {c: self.db.invitations[c] for c in codes if c in self.db.invitations}

    async def set_invitation_uses(self, uses: dict[str, int]) -> None:
        for code, count in uses.items():
            self.db.invitations[code] = replace(self.db.invitations[code], uses=count)

    async def add_accounts(
        self, accounts: list[tuple[int, domain.NewAccount]]
    ) -> list[dict[str, Any]]:
        taken = {a["handle"] for a in self.db.accounts.values()}
        created = []
        for account_id, new in accounts:
            if new.handle not in taken:
                self.db.add(account_id, new.handle, new.kind)
                created.append(self.db.accounts[account_id])
                self.db.outbox.append(("account.created", account_id))
        return created

    async def add_invitation(
        self, code: str, new: domain.NewInvitation, kinds: list[str], created_by: str
    ) -> dict[str, Any]:
        invitation = domain.Invitation(code, new.max_uses, 0, new.expires_at, tuple(kinds))
        self.db.invitations[code] = invitation
        return {**invitation.__dict__, "kinds": list(kinds)}

    async def set_status(self, account_id: int, status: str) -> None:
        account = self.db.accounts.get(account_id)
        if account is None:
            raise domain.AccountNotFound("account not found", account_id=str(account_id))
        if account["status"] != status:
            account["status"] = status
            self.db.outbox.append((f"account.{status}", account_id))

    async def lock_accounts(self, account_ids: list[int]) -> dict[int, FollowSide]:
        return {
            i: FollowSide(a["kind"], a["following_count"])
            for i, a in self.db.accounts.items()
            if i in account_ids
        }

    async def active_follows(self, pairs: list[Pair]) -> set[Pair]:
        return self.db.follows & set(pairs)

    async def change_follows(
        self, pairs: list[Pair], following: bool, source: str, now: datetime
    ) -> int:
        changed = [p for p in pairs if (p in self.db.follows) != following]
        for user_id, account_id in changed:
            delta = 1 if following else -1
            (self.db.follows.add if following else self.db.follows.discard)((user_id, account_id))
            self.db.accounts[user_id]["following_count"] += delta
            self.db.accounts[account_id]["followers_count"] += delta
            self.db.outbox.append(("follow.changed", (user_id, account_id, following)))
        return len(changed)
