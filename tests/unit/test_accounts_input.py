"""Accounts' input rules: whole-string patterns, follow tokens of any shape, the
following limit and invitation expiries (issue 9, items 9, 14 and 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from services.accounts.bulk_api import FollowPair
from services.accounts.config import AccountsConfig
from services.accounts.domain import (
    InputInvalid,
    NewAccount,
    NewInvitation,
    TokenInvalid,
    check_new_invitation,
    follows_past_limit,
    sign_follow_token,
    valid_handle,
    verify_follow_token,
)
from shared.config import ConfigError, Env

SECRET = "s" * 32
NOW_S = 1_800_000_000


@pytest.mark.parametrize("handle", ["alice\n", "alice\r\n", "\nalice", "ali\nce", "alice "])
def test_a_handle_with_a_newline_or_space_anywhere_is_refused(handle):
    assert not valid_handle(handle)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"handle": handle, "kind": "consumer", "display_name": "x"}, NewAccount)


def test_a_plain_handle_is_accepted():
    assert valid_handle("alice_01")


@pytest.mark.parametrize("code", ["ABCDEFGH2345\n", "abc", "ABC DEF", "", "Ａ"])
def test_an_invitation_code_outside_its_alphabet_or_with_a_newline_is_refused(code):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(
            {"handle": "shop_1", "kind": "seller", "display_name": "x", "invitation_code": code},
            NewAccount,
        )


@pytest.mark.parametrize("bad", ["²", "٣", "1" * 20, str(2**63), "05", "0", "", " 5"])
def test_a_bulk_follow_id_must_be_a_canonical_id(bad):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"user_id": bad, "account_id": "1"}, FollowPair)


@pytest.mark.parametrize(
    "token",
    [
        "1" * 5000 + ".1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1." + "9" * 5000 + ".AAAAAAAAAAAAAAAAAAAAAAAA",
        "².1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1.².AAAAAAAAAAAAAAAAAAAAAAAA",
        "٣.٣.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1.2",
        "",
    ],
)
def test_a_malformed_follow_token_is_token_invalid_not_a_crash(token):
    with pytest.raises(TokenInvalid):
        verify_follow_token(SECRET, token, NOW_S)


def test_a_valid_follow_token_with_a_trailing_newline_is_refused():
    token = sign_follow_token(SECRET, 42, NOW_S + 60)
    assert verify_follow_token(SECRET, token, NOW_S) == 42
    with pytest.raises(TokenInvalid):
        verify_follow_token(SECRET, token + "\n", NOW_S)


def test_new_follows_are_admitted_in_order_until_the_limit():
    refused = follows_past_limit(
        [(0, (1, 10)), (1, (1, 11)), (2, (2, 10)), (3, (1, 12))],
        {1: 2, 2: 0},
        set(),
        limit=3,
    )
    assert [(index, e.code, e.details) for index, e in refused] == [
        (1, "following_limit", {"limit": 3}),
        (3, "following_limit", {"limit": 3}),
    ]


def test_a_follow_already_held_or_repeated_in_the_batch_costs_nothing():
    pairs = [(0, (1, 10)), (1, (1, 11)), (2, (1, 11))]
    assert follows_past_limit(pairs, {1: 3}, {(1, 10)}, limit=4) == []


def test_a_user_at_the_limit_can_refollow_nothing_new():
    refused = follows_past_limit([(0, (1, 10)), (1, (1, 11))], {1: 5}, {(1, 10)}, limit=5)
    assert [index for index, _ in refused] == [1]


@pytest.mark.parametrize(
    "expires_at",
    [
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))),
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    ],
)
def test_an_expiry_outside_the_years_postgres_can_hold_in_utc_is_refused(expires_at):
    with pytest.raises(InputInvalid) as refused:
        check_new_invitation(NewInvitation(max_uses=1, expires_at=expires_at))
    assert refused.value.details == {"field": "$.expires_at"}


def test_an_ordinary_expiry_is_accepted():
    check_new_invitation(NewInvitation(max_uses=1, expires_at=datetime(2030, 1, 1, tzinfo=UTC)))
    check_new_invitation(NewInvitation(max_uses=1, expires_at=datetime(2030, 1, 1)))


def settings(**values: str) -> Env:
    return Env({"WEITAO_JWT_SECRET": SECRET, **values})


def test_the_following_limit_is_5000_unless_set():
    assert AccountsConfig.from_env(settings()).following_limit == 5_000
    lowered = AccountsConfig.from_env(settings(WEITAO_FOLLOWING_LIMIT="3"))
    assert lowered.following_limit == 3
    with pytest.raises(ConfigError, match="WEITAO_FOLLOWING_LIMIT"):
        AccountsConfig.from_env(settings(WEITAO_FOLLOWING_LIMIT="0"))
