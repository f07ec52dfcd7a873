"""Accounts' pure rules: sign-up, invitations, follows, follow tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.accounts.domain import (
    CannotFollowSelf,
    CategoryRequired,
    Invitation,
    InvitationRequired,
    NewAccount,
    NotFollowable,
    TokenInvalid,
    check_follow,
    check_new_account,
    invitation_refusal,
    new_invitation_code,
    sign_follow_token,
    verify_follow_token,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SECRET = "s" * 32


def account(**fields) -> NewAccount:
    return msgspec.convert(
        {"handle": "shop_1", "kind": "seller", "display_name": "店", **fields}, NewAccount
    )


def test_consumers_sign_up_without_code_or_category():
    check_new_account(account(kind="consumer"))


def test_operators_need_an_invitation_code_and_a_category():
    with pytest.raises(InvitationRequired):
        check_new_account(account(category="beauty"))
    with pytest.raises(CategoryRequired):
        check_new_account(account(invitation_code="X"))
    check_new_account(account(invitation_code="X", category="beauty"))


@pytest.mark.parametrize("handle", ["ab", "a" * 31, "Shop", "shop-1", "店铺"])
def test_handles_outside_3_to_30_of_lowercase_digits_underscore_are_refused(handle):
    with pytest.raises(msgspec.ValidationError):
        account(handle=handle)


def invitation(**fields) -> Invitation:
    values = {
        "code": "C",
        "max_uses": 2,
        "uses": 0,
        "expires_at": None,
        "kinds": ("seller", "media"),
    } | fields
    return Invitation(**values)


@pytest.mark.parametrize(
    ("inv", "kind", "reason"),
    [
        (None, "seller", "unknown"),
        (invitation(expires_at=NOW - timedelta(seconds=1)), "seller", "expired"),
        (invitation(uses=2), "seller", "used_up"),
        (invitation(), "influencer", "wrong_kind"),
        (invitation(expires_at=NOW + timedelta(days=1), uses=1), "media", None),
    ],
)
def test_an_invitation_admits_only_its_kinds_until_used_up_or_expired(inv, kind, reason):
    assert invitation_refusal(inv, kind, NOW) == reason


def test_invitation_codes_are_unpredictable_and_readable():
    codes = {new_invitation_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 12 and not set(c) & set("01IO") for c in codes)


def test_following_oneself_or_a_consumer_is_refused():
    with pytest.raises(CannotFollowSelf):
        check_follow(1, 1, "seller")
    with pytest.raises(NotFollowable):
        check_follow(1, 2, "consumer")
    check_follow(1, 2, "influencer")


def test_a_follow_token_names_its_account_until_it_expires():
    token = sign_follow_token(SECRET, 42, 2_000)
    assert verify_follow_token(SECRET, token, 1_999) == 42
    with pytest.raises(TokenInvalid):
        verify_follow_token(SECRET, token, 2_000)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),
        lambda t: t.replace(".2000.", ".9999."),
        lambda t: t[:-2] + "xx",
        lambda t: "garbage",
        lambda t: "",
    ],
)
def test_a_forged_or_malformed_follow_token_is_invalid(tamper):
    token = sign_follow_token(SECRET, 42, 2_000)
    with pytest.raises(TokenInvalid):
        verify_follow_token(SECRET, tamper(token), 1_000)


def test_a_token_signed_with_another_secret_is_invalid():
    token = sign_follow_token("t" * 32, 42, 2_000)
    with pytest.raises(TokenInvalid):
        verify_follow_token(SECRET, token, 1_000)
