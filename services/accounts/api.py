"""Accounts HTTP handlers (API.md "accounts"): sign-up, lookups, invitations, suspension;
the app keys and error statuses every accounts handler shares (follows: follow_api).
Each decodes, calls a use case (service.py) or a read of a store, and encodes with the
Structs /openapi.json documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from services.accounts import domain
from services.accounts.config import AccountsConfig
from services.accounts.follow_store import FollowStore
from services.accounts.ports import AccountRow
from services.accounts.service import AccountService
from services.accounts.store import AccountStore
from shared.accounts import AccountView
from shared.auth import require_role
from shared.errors import ApiError, DomainError
from shared.ids import IdGenerator
from shared.timeutil import rfc3339
from shared.web import (
    Param,
    Route,
    id_param,
    json_response,
    no_content,
    path_id,
    principal,
    read_body,
)

STORE = web.AppKey("accounts_store", AccountStore)
FOLLOWS = web.AppKey("accounts_follows", FollowStore)
SERVICE = web.AppKey("accounts_service", AccountService)
CONFIG = web.AppKey("accounts_config", AccountsConfig)
IDS = web.AppKey("accounts_ids", IdGenerator)

HANDLE_SCHEMA = {"type": "string", "pattern": domain.HANDLE_PATTERN}

ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.InvitationRequired: 403,
    domain.InvitationInvalid: 400,
    domain.CategoryRequired: 400,
    domain.HandleTaken: 409,
    domain.AccountNotFound: 404,
    domain.CannotFollowSelf: 400,
    domain.NotFollowable: 400,
    domain.TokenInvalid: 400,
    domain.FollowingLimit: 409,
    domain.InputInvalid: 400,
}


class Account(AccountView):
    """An account with its counters, as accounts serves it."""

    followers_count: int
    following_count: int
    created_at: str


class InvitationOut(msgspec.Struct):
    code: str
    max_uses: int
    uses: int
    expires_at: str | None
    kinds: list[str]


def account_of(row: AccountRow) -> Account:
    """An account row (store.ACCOUNT_COLUMNS) as the API shows it."""
    return Account(
        id=str(row["id"]),
        handle=row["handle"],
        kind=row["kind"],
        display_name=row["display_name"],
        category=row["category"],
        status=row["status"],
        followers_count=row["followers_count"],
        following_count=row["following_count"],
        created_at=rfc3339(row["created_at"]),
    )


def invitation_of(row: Mapping[str, Any]) -> InvitationOut:
    """An invitation row as the API shows it."""
    return InvitationOut(
        code=row["code"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        expires_at=rfc3339(row["expires_at"]) if row["expires_at"] else None,
        kinds=list(row["kinds"]),
    )


# ---------------------------------------------------------------- accounts


async def create_account(request: web.Request) -> web.Response:
    require_role(principal(request), "service", "staff")
    new = await read_body(request, domain.NewAccount)
    row = await request.app[SERVICE].create_account(new)
    return json_response(account_of(row), 201)


async def get_account(request: web.Request) -> web.Response:
    row = await request.app[STORE].account(path_id(request, "id"))
    return json_response(account_of(row))


async def get_account_by_handle(request: web.Request) -> web.Response:
    handle = request.match_info["handle"]
    if not domain.valid_handle(handle):
        raise ApiError(404, "not_found", "account not found")  # no such handle can exist
    row = await request.app[STORE].account_by_handle(handle)
    return json_response(account_of(row))


async def create_invitation(request: web.Request) -> web.Response:
    caller = principal(request)
    require_role(caller, "staff")
    new = await read_body(request, domain.NewInvitation)
    row = await request.app[SERVICE].create_invitation(new, caller.sub)
    return json_response(invitation_of(row), 201)


async def suspend(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    await request.app[SERVICE].set_status(path_id(request, "id"), "suspended")
    return no_content()


async def unsuspend(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    await request.app[SERVICE].set_status(path_id(request, "id"), "active")
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
        params=(Param("handle", "path", HANDLE_SCHEMA, required=True),),
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
