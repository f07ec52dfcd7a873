"""Staff-only bulk import (for operators migrating data and the load harness): the same
store paths, rules and events as one-at-a-time calls, many items per transaction."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from services.accounts.api import SERVICE, Account, account_of
from services.accounts.domain import AccountsError, NewAccount
from shared.auth import require_role
from shared.errors import validation_error
from shared.ids import Id, parse_id
from shared.web import Route, json_response, principal, read_body

MAX_BULK = 2_000  # items per call: the body stays under API.md's 256 KiB limit


class BulkAccounts(msgspec.Struct, forbid_unknown_fields=True):
    accounts: Annotated[list[NewAccount], msgspec.Meta(min_length=1, max_length=MAX_BULK)]


class FollowPair(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id
    account_id: Id


class BulkFollows(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["follow", "unfollow"]
    pairs: Annotated[list[FollowPair], msgspec.Meta(min_length=1, max_length=MAX_BULK)]


class Refusal(msgspec.Struct):
    index: int
    code: str
    message: str


class BulkAccountsResult(msgspec.Struct):
    created: list[Account]
    refused: list[Refusal]


class BulkFollowsResult(msgspec.Struct):
    changed: int
    refused: list[Refusal]


def refusals(refused: list[tuple[int, AccountsError]]) -> list[Refusal]:
    return [Refusal(index=i, code=e.code, message=e.message) for i, e in refused]


async def bulk_accounts(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    body = await read_body(request, BulkAccounts)
    outcome = await request.app[SERVICE].create_accounts(body.accounts)
    result = BulkAccountsResult(
        created=[account_of(r) for r in outcome.created], refused=refusals(outcome.refused)
    )
    return json_response(result, 201)


async def bulk_follows(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    body = await read_body(request, BulkFollows)
    pairs = []
    for index, pair in enumerate(body.pairs):
        user_id, account_id = parse_id(pair.user_id), parse_id(pair.account_id)
        if user_id is None or account_id is None:
            field = "user_id" if user_id is None else "account_id"
            raise validation_error(f"$.pairs[{index}].{field}", "not a 64-bit id")
        pairs.append((user_id, account_id))
    outcome = await request.app[SERVICE].change_follows(pairs, body.action == "follow", "import")
    result = BulkFollowsResult(changed=outcome.changed, refused=refusals(outcome.refused))
    return json_response(result)


ROUTES = (
    Route(
        "POST",
        "/v1/admin/bulk/accounts",
        bulk_accounts,
        "Create up to 2,000 accounts (staff; same rules and events as one at a time)",
        status=201,
        body=BulkAccounts,
        response=BulkAccountsResult,
    ),
    Route(
        "POST",
        "/v1/admin/bulk/follows",
        bulk_follows,
        "Follow or unfollow up to 2,000 pairs (staff; same rules and events)",
        body=BulkFollows,
        response=BulkFollowsResult,
    ),
)
