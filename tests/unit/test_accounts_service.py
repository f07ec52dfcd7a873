"""Accounts' use cases (service.AccountService) on in-memory fakes: invitation admission,
the following limit, idempotent follows and suspensions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.accounts import domain
from services.accounts.service import AccountService
from tests.unit.fakes_accounts import FakeAccounts

NOW = datetime(2031, 3, 1, 4, 0, tzinfo=UTC)
LIMIT = 2
FAN, SHOP_A, SHOP_B, SHOP_C, OTHER_FAN = 1, 2, 3, 4, 5


class FakeIds:
    def __init__(self) -> None:
        self._next = itertools.count(100)

    def next_id(self) -> int:
        return next(self._next)


@pytest.fixture
def db() -> FakeAccounts:
    db = FakeAccounts()
    db.add(FAN, "fan", "consumer")
    db.add(OTHER_FAN, "other_fan", "consumer")
    for account_id in (SHOP_A, SHOP_B, SHOP_C):
        db.add(account_id, f"shop_{account_id}", "seller")
    return db


@pytest.fixture
def service(db: FakeAccounts) -> AccountService:
    return AccountService(db, db, FakeIds(), LIMIT, lambda: NOW)


def seller(handle: str, code: str | None = "INVITE", kind: str = "seller") -> domain.NewAccount:
    fields = {"handle": handle, "kind": kind, "display_name": "店", "category": "home"}
    return msgspec.convert({**fields, "invitation_code": code}, domain.NewAccount)


def invite(db: FakeAccounts, max_uses: int, expires_at=None, kinds=("seller",)) -> None:
    db.invitations["INVITE"] = domain.Invitation("INVITE", max_uses, 0, expires_at, kinds)


async def test_an_invitation_admits_exactly_max_uses_accounts(service, db):
    invite(db, 2)
    outcome = await service.create_accounts([seller(f"shop_new_{n}") for n in range(3)])
    assert [r["handle"] for r in outcome.created] == ["shop_new_0", "shop_new_1"]
    assert [(i, e.details["reason"]) for i, e in outcome.refused] == [(2, "used_up")]
    assert db.invitations["INVITE"].uses == 2
    with pytest.raises(domain.InvitationInvalid):
        await service.create_account(seller("shop_late"))


@pytest.mark.parametrize(
    ("expires_at", "kind", "reason"),
    [(NOW, "seller", "expired"), (None, "media", "wrong_kind"), (None, "seller", "unknown")],
)
async def test_an_expired_wrong_kind_or_unknown_code_is_refused(
    service, db, expires_at, kind, reason
):
    invite(db, 5, expires_at)
    code = "NOSUCHCODE" if reason == "unknown" else "INVITE"
    with pytest.raises(domain.InvitationInvalid) as refusal:
        await service.create_account(seller("shop_new", code, kind))
    assert refusal.value.details["reason"] == reason
    assert (db.invitations["INVITE"].uses, db.outbox) == (0, [])


async def test_a_taken_handle_gives_back_its_invitation_use(service, db):
    invite(db, 1)
    with pytest.raises(domain.HandleTaken):
        await service.create_account(seller("shop_2"))
    assert db.invitations["INVITE"].uses == 0
    await service.create_account(seller("shop_free"))


async def test_an_operator_needs_a_code_and_a_consumer_none(service, db):
    with pytest.raises(domain.InvitationRequired):
        await service.create_account(seller("shop_new", None))
    fan = msgspec.convert(
        {"handle": "new_fan", "kind": "consumer", "display_name": "粉"}, domain.NewAccount
    )
    assert (await service.create_account(fan))["kind"] == "consumer"


async def test_a_follow_past_the_limit_is_refused(service, db):
    assert await service.follow(FAN, SHOP_A, "api")
    assert await service.follow(FAN, SHOP_B, "api")
    with pytest.raises(domain.FollowingLimit):
        await service.follow(FAN, SHOP_C, "api")
    assert db.accounts[FAN]["following_count"] == LIMIT


async def test_a_repeat_follow_costs_nothing(service, db):
    await service.follow(FAN, SHOP_A, "api")
    await service.follow(FAN, SHOP_B, "api")
    assert not await service.follow(FAN, SHOP_A, "api")  # at the limit, yet allowed
    assert db.outbox.count(("follow.changed", (FAN, SHOP_A, True))) == 1


async def test_a_batch_admits_follows_in_order_up_to_the_limit(service, db):
    pairs = [(FAN, SHOP_A), (FAN, SHOP_A), (FAN, SHOP_B), (FAN, SHOP_C), (FAN, 99)]
    outcome = await service.change_follows(pairs, True, "import")
    assert outcome.changed == 2
    assert [(i, e.code) for i, e in outcome.refused] == [(3, "following_limit"), (4, "not_found")]


async def test_one_cannot_follow_oneself_or_a_consumer(service):
    with pytest.raises(domain.CannotFollowSelf):
        await service.follow(SHOP_A, SHOP_A, "api")
    with pytest.raises(domain.NotFollowable):
        await service.follow(FAN, OTHER_FAN, "api")


async def test_an_unfollow_frees_a_place_and_repeating_it_changes_nothing(service, db):
    await service.follow(FAN, SHOP_A, "api")
    await service.follow(FAN, SHOP_B, "api")
    assert await service.unfollow(FAN, SHOP_A)
    assert not await service.unfollow(FAN, SHOP_A)
    assert await service.follow(FAN, SHOP_C, "api")


async def test_suspending_twice_emits_one_change(service, db):
    await service.set_status(SHOP_A, "suspended")
    await service.set_status(SHOP_A, "suspended")
    assert db.outbox == [("account.suspended", SHOP_A)]
    with pytest.raises(domain.AccountNotFound):
        await service.set_status(99, "suspended")


async def test_an_invitation_is_issued_for_every_operator_kind_unless_told(service):
    new = msgspec.convert({"max_uses": 3}, domain.NewInvitation)
    row = await service.create_invitation(new, "staff-1")
    assert (row["kinds"], row["uses"]) == (list(domain.OPERATOR_KINDS), 0)
    expired = NOW - timedelta(days=1)
    later = msgspec.convert(
        {"max_uses": 1, "kinds": ["media", "media"], "expires_at": expired.isoformat()},
        domain.NewInvitation,
    )
    assert (await service.create_invitation(later, "staff-1"))["kinds"] == ["media"]
