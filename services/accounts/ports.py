"""Accounts' ports: what its use cases (service.py) need of storage. The stores (store.py,
follow_store.py) implement them on Postgres; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from services.accounts import domain

AccountRow = Mapping[str, Any]  # an account's columns (store.ACCOUNT_COLUMNS)
Pair = tuple[int, int]  # (user, account) of a follow


class FollowSide(NamedTuple):
    """What the follow rules read of a locked account."""

    kind: str
    following_count: int


class AccountTransaction(Protocol):
    """What the account use cases read and write inside one transaction."""

    async def lock_invitations(self, codes: list[str]) -> dict[str, domain.Invitation]:
        """The known invitations among codes, locked to the commit (in code order)."""

    async def set_invitation_uses(self, uses: dict[str, int]) -> None:
        """Stores the uses counted for each code."""

    async def add_accounts(self, accounts: list[tuple[int, domain.NewAccount]]) -> list[AccountRow]:
        """Inserts the accounts whose handle is free and enqueues their account.changed;
        the rows inserted."""

    async def add_invitation(
        self, code: str, new: domain.NewInvitation, kinds: list[str], created_by: str
    ) -> Mapping[str, Any]:
        """Stores an invitation; its row (code, max_uses, uses, expires_at, kinds)."""

    async def set_status(self, account_id: int, status: str) -> None:
        """Sets an account's status with its account.changed, unless it already has it;
        AccountNotFound when there is no such account."""


class FollowTransaction(Protocol):
    """What the follow use cases read and write inside one transaction."""

    async def lock_accounts(self, account_ids: list[int]) -> dict[int, FollowSide]:
        """The accounts among ids, locked to the commit in id order."""

    async def active_follows(self, pairs: list[Pair]) -> set[Pair]:
        """The pairs among `pairs` that are follows now."""

    async def change_follows(
        self, pairs: list[Pair], following: bool, source: str, now: datetime
    ) -> int:
        """Starts (or ends) the follows that are not (or are) already so, moving both counts
        and enqueueing follow.changed; how many changed."""


class AccountRepository(Protocol):
    def writing(self) -> AbstractAsyncContextManager[AccountTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""


class FollowRepository(Protocol):
    def writing(self) -> AbstractAsyncContextManager[FollowTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""


class IdSource(Protocol):
    def next_id(self) -> int:
        """A new unique 64-bit id."""
