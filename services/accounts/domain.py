"""Accounts rules: kinds, categories, handles, invitations, follows, follow tokens. No I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from shared.errors import DomainError
from shared.vocabulary import Category

Kind = Literal["consumer", "seller", "influencer", "media"]
OPERATOR_KINDS: tuple[str, ...] = ("seller", "influencer", "media")
# Python's `$` also matches before a trailing newline ("alice\n" would pass); `(?!\n)`
# forbids that and means nothing in ECMA-262, so /openapi.json states the same rule.
HANDLE_PATTERN = r"^[a-z0-9_]{3,30}(?!\n)$"
INVITATION_CODE_PATTERN = r"^[A-Z0-9]{1,64}(?!\n)$"  # new_invitation_code's alphabet and more


class NewAccount(msgspec.Struct, forbid_unknown_fields=True):
    handle: Annotated[str, msgspec.Meta(pattern=HANDLE_PATTERN)]
    kind: Kind
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    category: Category | None = None
    invitation_code: Annotated[str, msgspec.Meta(pattern=INVITATION_CODE_PATTERN)] | None = None

    # check_new_account in /openapi.json: operators need a category and a code (its
    # existence, uses and kinds are data, not schema: 400 invitation_invalid).
    openapi_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"kind": {"enum": ["consumer"]}}},
            {
                "required": ["category", "invitation_code"],
                "properties": {
                    "category": {"type": "string"},
                    "invitation_code": {"type": "string", "minLength": 1},
                },
            },
        ]
    }


class NewInvitation(msgspec.Struct, forbid_unknown_fields=True):
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    expires_at: datetime | None = None
    kinds: list[Literal["seller", "influencer", "media"]] | None = None


# ---------------------------------------------------------------- errors


class AccountsError(DomainError):
    code = "accounts_error"


class InvitationRequired(AccountsError):
    code = "invitation_required"


class InvitationInvalid(AccountsError):
    code = "invitation_invalid"


class CategoryRequired(AccountsError):
    code = "validation_error"


class HandleTaken(AccountsError):
    code = "handle_taken"


class AccountNotFound(AccountsError):
    code = "not_found"


class CannotFollowSelf(AccountsError):
    code = "cannot_follow_self"


class NotFollowable(AccountsError):
    code = "not_followable"


class TokenInvalid(AccountsError):
    code = "token_invalid"


class FollowingLimit(AccountsError):
    code = "following_limit"


class InputInvalid(AccountsError):
    """A field the schema admits but the rules cannot use (details name it)."""

    code = "validation_error"


# ---------------------------------------------------------------- rules


def check_new_account(new: NewAccount) -> None:
    """Operators need an invitation code and a category; consumers need neither."""
    if new.kind in OPERATOR_KINDS:
        if not new.invitation_code:
            raise InvitationRequired(f"a {new.kind} account needs an invitation code")
        if new.category is None:
            raise CategoryRequired(f"a {new.kind} account needs a category", field="category")


def valid_handle(text: str) -> bool:
    return re.fullmatch(HANDLE_PATTERN, text) is not None


def check_new_invitation(new: NewInvitation) -> None:
    """An expiry must be a time Postgres can store: in UTC, still within years 1-9999."""
    if new.expires_at is not None and new.expires_at.tzinfo is not None:
        try:
            new.expires_at.astimezone(UTC)
        except OverflowError:
            raise InputInvalid(
                "expires_at is out of range once in UTC", field="$.expires_at"
            ) from None


@dataclass(frozen=True)
class Invitation:
    code: str
    max_uses: int
    uses: int
    expires_at: datetime | None
    kinds: tuple[str, ...]


def invitation_refusal(invitation: Invitation | None, kind: str, now: datetime) -> str | None:
    """Why a code cannot admit an account of `kind` now, or None when it can."""
    if invitation is None:
        return "unknown"
    if invitation.expires_at is not None and invitation.expires_at <= now:
        return "expired"
    if invitation.uses >= invitation.max_uses:
        return "used_up"
    if kind not in invitation.kinds:
        return "wrong_kind"
    return None


def new_invitation_code() -> str:
    """A code staff hand out: 12 characters, unambiguous to read aloud or type."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def check_follow(user_id: int, account_id: int, target_kind: str) -> None:
    if user_id == account_id:
        raise CannotFollowSelf("an account cannot follow itself")
    if target_kind == "consumer":
        raise NotFollowable("consumer accounts cannot be followed")


def follows_past_limit(
    pairs: Iterable[tuple[int, tuple[int, int]]],
    following_counts: Mapping[int, int],
    already_following: Set[tuple[int, int]],
    limit: int,
) -> list[tuple[int, FollowingLimit]]:
    """The (index, refusal) of each new follow that would take its user past `limit`.

    `pairs` are (index, (user, account)) in request order; new follows are admitted in
    that order, and a follow the user already has (or was just admitted) costs nothing.
    """
    counts = dict(following_counts)
    followed = set(already_following)
    refused = []
    for index, pair in pairs:
        if pair in followed:
            continue
        user_id = pair[0]
        if counts.get(user_id, 0) >= limit:
            message = f"a user can follow at most {limit} accounts"
            refused.append((index, FollowingLimit(message, limit=limit)))
            continue
        counts[user_id] = counts.get(user_id, 0) + 1
        followed.add(pair)
    return refused


# ---------------------------------------------------------------- follow tokens (QR codes)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign_follow_token(secret: str, account_id: int, expires_epoch_s: int) -> str:
    """`<account>.<expiry>.<hmac>`: names the account, unforgeable without the secret."""
    body = f"{account_id}.{expires_epoch_s}"
    mac = hmac.new(f"follow:{secret}".encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac[:18])}"


# What sign_follow_token makes: ASCII decimals (so int() is bounded and never sees "²")
# and 18 MAC bytes in unpadded base64url.
_FOLLOW_TOKEN = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})\.[A-Za-z0-9_-]{24}")
# The same shape for /openapi.json, whole string only (see HANDLE_PATTERN).
FOLLOW_TOKEN_PATTERN = r"^[0-9]{1,19}\.[0-9]{1,19}\.[A-Za-z0-9_-]{24}(?!\n)$"


def verify_follow_token(secret: str, token: str, now_epoch_s: int) -> int:
    """The account a token names; TokenInvalid when forged, malformed or expired."""
    parts = _FOLLOW_TOKEN.fullmatch(token)
    if parts is None:
        raise TokenInvalid("malformed follow token")
    account_id, expires = int(parts[1]), int(parts[2])
    expected = sign_follow_token(secret, account_id, expires)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise TokenInvalid("follow token signature does not match")
    if expires <= now_epoch_s:
        raise TokenInvalid("follow token expired")
    return account_id
