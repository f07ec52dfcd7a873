"""The contracts of accounts and follows (accounts is their producer)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import topics
from shared.envelope import Contract


@dataclass(frozen=True)
class AccountChanged(Contract):
    """The account's state after a change (`created`, `suspended`, `unsuspended`).

    `version` grows with every change of the account: projections keep the highest.
    `changed_at` is when accounts made the change (absent from events written before it
    was added): publishing retracts what a suspended account published from then on.
    """

    TOPIC = topics.ACCOUNTS
    TYPE = "account.changed"

    account_id: str
    handle: str
    kind: str
    display_name: str
    category: str | None
    status: str
    created_at: str
    change: str
    version: int
    changed_at: str | None = None

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True)
class FollowChanged(Contract):
    """`user_id` now follows (`following`) or no longer follows `account_id`.

    `version` grows with every change of this (user, account) pair, so a consumer that
    sees an older change after a newer one (redelivery, replay) can ignore it.
    """

    TOPIC = topics.FOLLOWS
    TYPE = "follow.changed"

    user_id: str
    account_id: str
    following: bool
    source: str  # "api" | "qr" | "recommendation" | "import" (staff bulk import)
    version: int
    at: str

    def key(self) -> str:
        return self.account_id
