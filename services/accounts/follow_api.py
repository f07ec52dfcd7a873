"""Follows over HTTP (API.md "accounts"): follow, unfollow, the two pages, and the
signed follow tokens behind QR codes."""

from __future__ import annotations

import io
import time
from collections.abc import Mapping

import msgspec
import segno
from aiohttp import web

from services.accounts import domain
from services.accounts.api import CONFIG, FOLLOWS, SERVICE, STORE, Account, account_of
from shared.auth import require_actor, require_role
from shared.errors import forbidden, validation_error
from shared.ids import parse_id
from shared.pagination import keyed_page, keyed_page_query
from shared.timeutil import from_epoch_ms, rfc3339
from shared.web import (
    CURSOR,
    LIMIT,
    Param,
    Route,
    id_param,
    json_response,
    no_content,
    path_id,
    principal,
)

TOKEN_SCHEMA = {"type": "string", "pattern": domain.FOLLOW_TOKEN_PATTERN}
# Where a follow through PUT came from, as the client says: the follow button (default)
# or a recommendation list. `qr` is not claimable here: only a redeemed follow token is.
CLAIMABLE_SOURCES = ("api", "recommendation")
SOURCE = Param(
    "source",
    schema={"type": "string", "enum": list(CLAIMABLE_SOURCES), "default": "api"},
    description="Where the follow came from: the follow button or a recommendation list",
)


class AccountPage(msgspec.Struct):
    items: list[Account]
    next_cursor: str | None


class FollowToken(msgspec.Struct):
    token: str
    url: str
    expires_at: str


def _source(query: Mapping[str, str]) -> str:
    source = query.get("source", "api")
    if source not in CLAIMABLE_SOURCES:
        raise validation_error("source", f"source must be one of {', '.join(CLAIMABLE_SOURCES)}")
    return source


async def follow(request: web.Request) -> web.Response:
    user_id, account_id = path_id(request, "user_id"), path_id(request, "account_id")
    require_actor(principal(request), user_id)
    source = _source(request.query)
    await request.app[SERVICE].follow(user_id, account_id, source=source)
    return no_content()


async def unfollow(request: web.Request) -> web.Response:
    user_id, account_id = path_id(request, "user_id"), path_id(request, "account_id")
    require_actor(principal(request), user_id)
    await request.app[SERVICE].unfollow(user_id, account_id)
    return no_content()


async def following(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id, staff_too=True)
    limit, after = keyed_page_query(request.query)
    rows = await request.app[FOLLOWS].following(user_id, limit, after)
    page = AccountPage(**keyed_page(rows, limit, "seq", account_of))
    return json_response(page)


async def followers(request: web.Request) -> web.Response:
    account_id = path_id(request, "id")
    require_actor(principal(request), account_id, staff_too=True)
    limit, after = keyed_page_query(request.query)
    rows = await request.app[FOLLOWS].followers(account_id, limit, after)
    page = AccountPage(**keyed_page(rows, limit, "seq", account_of))
    return json_response(page)


# ---------------------------------------------------------------- QR follow


async def _follow_token(request: web.Request) -> tuple[str, str, int]:
    account_id = path_id(request, "id")
    await request.app[STORE].account(account_id)
    config = request.app[CONFIG]
    expires = int(time.time()) + config.follow_token_ttl_s
    token = domain.sign_follow_token(config.common.jwt_secret.reveal(), account_id, expires)
    return token, f"{config.public_base_url}/{token}", expires


async def follow_token(request: web.Request) -> web.Response:
    token, url, expires = await _follow_token(request)
    expires_at = rfc3339(from_epoch_ms(expires * 1000))
    return json_response(FollowToken(token, url, expires_at))


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
        request.app[CONFIG].common.jwt_secret.reveal(),
        request.match_info["token"],
        int(time.time()),
    )
    user_id = parse_id(caller.sub)
    if user_id is None:
        raise forbidden("the token's subject is not an account")
    await request.app[SERVICE].follow(user_id, account_id, source="qr")
    return no_content()


ROUTES = (
    Route(
        "PUT",
        "/v1/users/{user_id}/following/{account_id}",
        follow,
        "Follow (idempotent)",
        status=204,
        params=(id_param("user_id"), id_param("account_id"), SOURCE),
        errors=(400, 404, 409),
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
        params=(Param("token", "path", TOKEN_SCHEMA, required=True),),
        errors=(400, 404, 409),
    ),
)
