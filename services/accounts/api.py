"""Accounts HTTP handlers (API.md "accounts"): decode, call store/domain, encode."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import asyncpg
import msgspec
import segno
from aiohttp import web

from services.accounts import domain
from services.accounts.config import AccountsConfig
from services.accounts.store import AccountStore
from shared.auth import require_actor, require_role
from shared.errors import ApiError, DomainError, forbidden
from shared.http import (
    CURSOR,
    LIMIT,
    Param,
    Route,
    id_param,
    json_response,
    no_content,
    path_id,
    principal,
    read_body,
)
from shared.ids import IdGenerator, parse_id
from shared.pagination import decode_cursor, page, parse_limit
from shared.timeutil import from_epoch_ms, rfc3339, utcnow

STORE = web.AppKey("accounts_store", AccountStore)
CONFIG = web.AppKey("accounts_config", AccountsConfig)
IDS = web.AppKey("accounts_ids", IdGenerator)

ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.InvitationRequired: 403,
    domain.InvitationInvalid: 400,
    domain.CategoryRequired: 400,
    domain.HandleTaken: 409,
    domain.AccountNotFound: 404,
    domain.CannotFollowSelf: 400,
    domain.NotFollowable: 400,
    domain.TokenInvalid: 400,
}


class Account(msgspec.Struct):
    id: str
    handle: str
    kind: str
    display_name: str
    category: str | None
    status: str
    followers_count: int
    following_count: int
    created_at: str


class AccountPage(msgspec.Struct):
    items: list[Account]
    next_cursor: str | None


class InvitationOut(msgspec.Struct):
    code: str
    max_uses: int
    uses: int
    expires_at: str | None
    kinds: list[str]


class FollowToken(msgspec.Struct):
    token: str
    url: str
    expires_at: str


def account_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "handle": row["handle"],
        "kind": row["kind"],
        "display_name": row["display_name"],
        "category": row["category"],
        "status": row["status"],
        "followers_count": row["followers_count"],
        "following_count": row["following_count"],
        "created_at": rfc3339(row["created_at"]),
    }


def account_page(rows: list[asyncpg.Record], limit: int) -> dict[str, Any]:
    next_position = [rows[-1]["seq"]] if len(rows) == limit else None
    return page([account_json(r) for r in rows], next_position)


# ---------------------------------------------------------------- accounts


async def create_account(request: web.Request) -> web.Response:
    require_role(principal(request), "service", "staff")
    new = await read_body(request, domain.NewAccount)
    domain.check_new_account(new)
    row = await request.app[STORE].create_account(request.app[IDS].next_id(), new, utcnow())
    return json_response(account_json(row), 201)


async def get_account(request: web.Request) -> web.Response:
    row = await request.app[STORE].account(path_id(request, "id"))
    return json_response(account_json(row))


async def get_account_by_handle(request: web.Request) -> web.Response:
    handle = request.match_info["handle"]
    if not re.fullmatch(domain.HANDLE_PATTERN, handle):
        raise ApiError(404, "not_found", "account not found")  # no such handle can exist
    row = await request.app[STORE].account_by_handle(handle)
    return json_response(account_json(row))


async def create_invitation(request: web.Request) -> web.Response:
    caller = principal(request)
    require_role(caller, "staff")
    new = await read_body(request, domain.NewInvitation)
    kinds = sorted(set(new.kinds)) if new.kinds else list(domain.OPERATOR_KINDS)
    row = await request.app[STORE].create_invitation(
        domain.new_invitation_code(), new.max_uses, new.expires_at, kinds, caller.sub
    )
    return json_response(
        {
            "code": row["code"],
            "max_uses": row["max_uses"],
            "uses": row["uses"],
            "expires_at": rfc3339(row["expires_at"]) if row["expires_at"] else None,
            "kinds": list(row["kinds"]),
        },
        201,
    )


async def suspend(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    await request.app[STORE].set_status(path_id(request, "id"), "suspended")
    return no_content()


async def unsuspend(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    await request.app[STORE].set_status(path_id(request, "id"), "active")
    return no_content()


# ---------------------------------------------------------------- follows


async def follow(request: web.Request) -> web.Response:
    user_id, account_id = path_id(request, "user_id"), path_id(request, "account_id")
    require_actor(principal(request), user_id)
    await request.app[STORE].follow(user_id, account_id, source="api")
    return no_content()


async def unfollow(request: web.Request) -> web.Response:
    user_id, account_id = path_id(request, "user_id"), path_id(request, "account_id")
    require_actor(principal(request), user_id)
    await request.app[STORE].unfollow(user_id, account_id, utcnow())
    return no_content()


async def following(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id, staff_too=True)
    limit = parse_limit(request.query)
    cursor = decode_cursor(request.query, 1)
    rows = await request.app[STORE].following(user_id, limit, cursor[0] if cursor else None)
    return json_response(account_page(rows, limit))


async def followers(request: web.Request) -> web.Response:
    account_id = path_id(request, "id")
    require_actor(principal(request), account_id, staff_too=True)
    limit = parse_limit(request.query)
    cursor = decode_cursor(request.query, 1)
    rows = await request.app[STORE].followers(account_id, limit, cursor[0] if cursor else None)
    return json_response(account_page(rows, limit))


# ---------------------------------------------------------------- QR follow


async def _follow_token(request: web.Request) -> tuple[str, str, int]:
    account_id = path_id(request, "id")
    await request.app[STORE].account(account_id)
    config = request.app[CONFIG]
    expires = int(time.time()) + config.follow_token_ttl_s
    token = domain.sign_follow_token(config.common.jwt_secret, account_id, expires)
    return token, f"{config.public_base_url}/{token}", expires


async def follow_token(request: web.Request) -> web.Response:
    token, url, expires = await _follow_token(request)
    return json_response(
        {"token": token, "url": url, "expires_at": rfc3339(from_epoch_ms(expires * 1000))}
    )


async def qr_svg(request: web.Request) -> web.Response:
    _, url, _ = await _follow_token(request)
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4)
    return web.Response(body=out.getvalue(), content_type="image/svg+xml")


async def qr_png(request: web.Request) -> web.Response:
    _, url, _ = await _follow_token(request)
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=4)
    return web.Response(body=out.getvalue(), content_type="image/png")


async def redeem_follow_token(request: web.Request) -> web.Response:
    caller = principal(request)
    require_role(caller, "user")
    account_id = domain.verify_follow_token(
        request.app[CONFIG].common.jwt_secret, request.match_info["token"], int(time.time())
    )
    user_id = parse_id(caller.sub)
    if user_id is None:
        raise forbidden("the token's subject is not an account")
    await request.app[STORE].follow(user_id, account_id, source="qr")
    return no_content()


ROUTES = (
    Route(
        "POST",
        "/v1/accounts",
        create_account,
        "Create an account",
        status=201,
        body=domain.NewAccount,
        response=Account,
        errors=(409,),
    ),
    Route(
        "GET",
        "/v1/accounts/{id}",
        get_account,
        "An account",
        response=Account,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/v1/accounts/by-handle/{handle}",
        get_account_by_handle,
        "An account by handle",
        response=Account,
        params=(Param("handle", "path", required=True),),
        errors=(404,),
    ),
    Route(
        "POST",
        "/v1/invitations",
        create_invitation,
        "Issue an invitation code (staff)",
        status=201,
        body=domain.NewInvitation,
        response=InvitationOut,
    ),
    Route(
        "PUT",
        "/v1/users/{user_id}/following/{account_id}",
        follow,
        "Follow (idempotent)",
        status=204,
        params=(id_param("user_id"), id_param("account_id")),
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/v1/users/{user_id}/following/{account_id}",
        unfollow,
        "Unfollow (idempotent)",
        status=204,
        params=(id_param("user_id"), id_param("account_id")),
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/v1/users/{user_id}/following",
        following,
        "Accounts a user follows",
        response=AccountPage,
        params=(id_param("user_id"), LIMIT, CURSOR),
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/v1/accounts/{id}/followers",
        followers,
        "An account's followers",
        response=AccountPage,
        params=(id_param("id"), LIMIT, CURSOR),
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/v1/accounts/{id}/follow-token",
        follow_token,
        "A signed follow token",
        response=FollowToken,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/v1/accounts/{id}/qr.svg",
        qr_svg,
        "QR code of the follow URL (SVG)",
        params=(id_param("id"),),
        errors=(400, 404),
        content_type="image/svg+xml",
    ),
    Route(
        "GET",
        "/v1/accounts/{id}/qr.png",
        qr_png,
        "QR code of the follow URL (PNG)",
        params=(id_param("id"),),
        errors=(400, 404),
        content_type="image/png",
    ),
    Route(
        "POST",
        "/v1/follow-tokens/{token}/redeem",
        redeem_follow_token,
        "Follow through a scanned QR code",
        status=204,
        params=(Param("token", "path", required=True),),
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/v1/accounts/{id}/suspend",
        suspend,
        "Suspend an account (staff)",
        status=204,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/v1/accounts/{id}/unsuspend",
        unsuspend,
        "Reinstate an account (staff)",
        status=204,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
)
