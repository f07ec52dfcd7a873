"""Accounts under pressure and abuse: concurrent suspensions, the following limit, and
bad input (non-ASCII digits, huge numbers, trailing newlines) that must be a 4xx, never
a 500 (issue 9, items 7, 9, 14 and 16)."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote

import orjson
import pytest

from tests.support import consumers, handle, seller

STAFF = ("staff-1", "staff")
GATEWAY = ("gateway", "service")
CALL_BOUND_S = 30.0  # far above any healthy answer; a deadlocked pool never answers


async def bounded(call):
    """The call's reply, or a test failure naming the hang instead of a hung test."""
    try:
        return await asyncio.wait_for(call, CALL_BOUND_S)
    except TimeoutError:
        pytest.fail(f"accounts did not answer within {CALL_BOUND_S}s (deadlocked?)")


# ---------------------------------------------------------------- item 7: suspensions


async def test_many_concurrent_repeat_suspensions_all_answer_and_leave_the_service_up(api):
    shop = await seller(api)
    path = f"/v1/accounts/{shop['id']}"

    async def all_at_once(action: str) -> list[int]:
        replies = await bounded(
            asyncio.gather(
                *(api.call("accounts", "POST", f"{path}/{action}", as_=STAFF) for _ in range(12))
            )
        )
        return [r.status for r in replies]

    assert await all_at_once("suspend") == [204] * 12
    assert (await bounded(api.call("accounts", "GET", path, as_=STAFF))).expect(200)[
        "status"
    ] == "suspended"
    assert await all_at_once("unsuspend") == [204] * 12
    assert (await bounded(api.call("accounts", "GET", path, as_=STAFF))).expect(200)[
        "status"
    ] == "active"
    ready = await bounded(api.call("accounts", "GET", "/readyz", as_=None))
    assert ready.status == 200, ready.body  # the pool (the relay's too) has connections free


# ---------------------------------------------------------------- item 9: following limit

LIMIT = 5_000  # API.md: 409 following_limit past 5,000 followed accounts per user


async def bulk(api, path: str, body: dict):
    return await api.call("accounts", "POST", f"/v1/admin/bulk/{path}", as_=STAFF, json=body)


async def bulk_sellers(api, count: int) -> list[str]:
    code = await api.create_invitation(max_uses=count, kinds=["seller"])
    ids: list[str] = []
    for start in range(0, count, 2000):
        batch = [
            {
                "handle": handle("lim"),
                "kind": "seller",
                "display_name": "店",
                "category": "home",
                "invitation_code": code,
            }
            for _ in range(min(2000, count - start))
        ]
        reply = await bulk(api, "accounts", {"accounts": batch})
        ids.extend(a["id"] for a in reply.expect(201)["created"])
    return ids


async def follows(api, pairs: list[tuple[str, str]]) -> dict:
    body = {"action": "follow", "pairs": [{"user_id": u, "account_id": a} for u, a in pairs]}
    return (await bulk(api, "follows", body)).expect(200)


async def following_count(api, user_id: str) -> int:
    reply = await api.call("accounts", "GET", f"/v1/accounts/{user_id}", as_=STAFF)
    return reply.expect(200)["following_count"]


async def put_follow(api, user_id: str, account_id: str):
    path = f"/v1/users/{user_id}/following/{account_id}"
    return await api.call("accounts", "PUT", path, as_=(user_id, "user"))


async def test_a_user_follows_at_most_5000_accounts_by_every_path_and_never_more(api):
    shops = await bulk_sellers(api, LIMIT + 10)
    fan, other_fan = await consumers(api, 2)
    user = fan["id"]
    for start in range(0, LIMIT, 2000):
        done = await follows(api, [(user, s) for s in shops[start : min(start + 2000, LIMIT)]])
        assert done["refused"] == []
    assert await following_count(api, user) == LIMIT

    # Bulk: refused per item, the other user's follow in the same call goes through.
    done = await follows(api, [(user, shops[LIMIT]), (other_fan["id"], shops[LIMIT])])
    assert done["changed"] == 1
    assert [(r["index"], r["code"]) for r in done["refused"]] == [(0, "following_limit")]

    reply = await put_follow(api, user, shops[LIMIT])
    assert reply.status == 409, reply.body
    assert reply.body["error"]["code"] == "following_limit"
    assert reply.body["error"]["details"] == {"limit": LIMIT}
    assert (await put_follow(api, user, shops[0])).status == 204  # a repeat costs nothing

    token = (
        await api.call("accounts", "GET", f"/v1/accounts/{shops[LIMIT]}/follow-token", as_=STAFF)
    ).expect(200)["token"]
    qr = await api.call("accounts", "POST", f"/v1/follow-tokens/{token}/redeem", as_=(user, "user"))
    assert qr.status == 409 and qr.body["error"]["code"] == "following_limit"

    # One place free and nine follows racing for it: exactly one wins.
    await api.unfollow(user, shops[0])
    racers = await asyncio.gather(*(put_follow(api, user, s) for s in shops[LIMIT + 1 :]))
    assert sorted(r.status for r in racers) == [204] + [409] * 8
    assert await following_count(api, user) == LIMIT
    page = await api.call(
        "accounts", "GET", f"/v1/users/{user}/following", as_=STAFF, params={"limit": 1}
    )
    winner = next(s for s, r in zip(shops[LIMIT + 1 :], racers, strict=True) if r.status == 204)
    assert [a["id"] for a in page.expect(200)["items"]] == [winner]


# ---------------------------------------------------------------- items 14 and 16: bad input

# Not ids: non-ASCII digits (str.isdigit() and int() accept them), thousands of digits
# (int() refuses past 4,300), past 63 bits, a trailing newline, zero.
BAD_IDS = ["²", "٣", "1" * 5000, str(2**63), "9" * 20, "5%0A", "0", "-1", "+5"]


def id_paths(good: str) -> list[tuple[str, str]]:
    """(method, path) of every accounts endpoint with an id in its path, id as `{}`."""
    return [
        ("GET", "/v1/accounts/{}"),
        ("GET", "/v1/accounts/{}/followers"),
        ("GET", "/v1/accounts/{}/follow-token"),
        ("GET", "/v1/accounts/{}/qr.svg"),
        ("GET", "/v1/accounts/{}/qr.png"),
        ("POST", "/v1/accounts/{}/suspend"),
        ("POST", "/v1/accounts/{}/unsuspend"),
        ("GET", "/v1/users/{}/following"),
        ("PUT", f"/v1/users/{{}}/following/{good}"),
        ("PUT", f"/v1/users/{good}/following/{{}}"),
        ("DELETE", f"/v1/users/{{}}/following/{good}"),
        ("DELETE", f"/v1/users/{good}/following/{{}}"),
    ]


def assert_validation_error(reply, what: str) -> None:
    assert reply.status == 400, (what, reply.status, reply.body)
    assert reply.body["error"]["code"] == "validation_error", (what, reply.body)


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_a_path_id_that_is_not_a_64_bit_decimal_is_400_on_every_endpoint(api, bad):
    (fan,) = await consumers(api, 1)
    for method, template in id_paths(fan["id"]):
        path = template.format(bad)
        reply = await api.call("accounts", method, path, as_=STAFF)
        assert_validation_error(reply, f"{method} {path}")


@pytest.mark.parametrize("bad", ["²", "٣", "1" * 5000, "0", "101", "5\n", "-1"])
async def test_a_bad_page_limit_is_400(api, bad):
    (fan,) = await consumers(api, 1)
    for path in (f"/v1/users/{fan['id']}/following", f"/v1/accounts/{fan['id']}/followers"):
        reply = await api.call("accounts", "GET", path, as_=STAFF, params={"limit": bad})
        assert_validation_error(reply, f"{path}?limit={bad!r}")


def cursor_of(position: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


@pytest.mark.parametrize(
    "bad",
    [
        cursor_of([2**63]),
        cursor_of([2**64 - 1]),
        "W" + "1" * 5000 + "XQ",
        "٣",
        cursor_of(["5"]),
        cursor_of([1, 2]),
    ],
    ids=["2^63", "2^64-1", "thousands-of-digits", "arabic-digit", "string", "two-numbers"],
)
async def test_a_cursor_not_issued_by_the_api_is_400(api, bad):
    (fan,) = await consumers(api, 1)
    for path in (f"/v1/users/{fan['id']}/following", f"/v1/accounts/{fan['id']}/followers"):
        reply = await api.call("accounts", "GET", path, as_=STAFF, params={"cursor": bad})
        assert_validation_error(reply, f"{path}?cursor={bad[:20]!r}")


@pytest.mark.parametrize(
    "bad",
    [
        "1" * 5000 + ".1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1." + "9" * 5000 + ".AAAAAAAAAAAAAAAAAAAAAAAA",
        "².1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "٣.٣.AAAAAAAAAAAAAAAAAAAAAAAA",
        "1.2.3",
        "1..AAAAAAAAAAAAAAAAAAAAAAAA",
    ],
    ids=["huge-account", "huge-expiry", "superscript", "arabic", "short-mac", "empty-parts"],
)
async def test_a_malformed_follow_token_is_token_invalid(api, bad):
    (fan,) = await consumers(api, 1)
    path = f"/v1/follow-tokens/{quote(bad)}/redeem"
    reply = await api.call("accounts", "POST", path, as_=(fan["id"], "user"))
    assert reply.status == 400, reply.body
    assert reply.body["error"]["code"] == "token_invalid"


async def test_a_real_follow_token_with_a_trailing_newline_is_token_invalid(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    token = (
        await api.call("accounts", "GET", f"/v1/accounts/{shop['id']}/follow-token", as_=STAFF)
    ).expect(200)["token"]
    path = f"/v1/follow-tokens/{token}%0A/redeem"
    reply = await api.call("accounts", "POST", path, as_=(fan["id"], "user"))
    assert reply.status == 400 and reply.body["error"]["code"] == "token_invalid"


async def test_a_handle_with_a_trailing_newline_is_refused_everywhere(api):
    name = handle("nl")
    created = await api.create_account(name)
    for body in (
        {"handle": f"{name}\n", "kind": "consumer", "display_name": "x"},
        {"handle": f"{handle('nl')}\n", "kind": "consumer", "display_name": "x"},
    ):
        reply = await api.call("accounts", "POST", "/v1/accounts", as_=GATEWAY, json=body)
        assert_validation_error(reply, repr(body["handle"]))
        reply = await bulk(api, "accounts", {"accounts": [body]})
        assert_validation_error(reply, f"bulk {body['handle']!r}")
    found = await api.call("accounts", "GET", f"/v1/accounts/by-handle/{name}%0A", as_=GATEWAY)
    assert found.status == 404, found.body
    found = await api.call("accounts", "GET", f"/v1/accounts/by-handle/{name}", as_=GATEWAY)
    assert found.expect(200)["id"] == created["id"]


async def test_an_invitation_code_with_a_trailing_newline_admits_nobody(api):
    code = await api.create_invitation(max_uses=1, kinds=["seller"])
    body = {
        "handle": handle("nl"),
        "kind": "seller",
        "display_name": "x",
        "category": "home",
        "invitation_code": f"{code}\n",
    }
    reply = await api.call("accounts", "POST", "/v1/accounts", as_=GATEWAY, json=body)
    assert_validation_error(reply, "code with a newline")
    assert reply.body["error"]["details"]["field"] == "$.invitation_code"
    body["invitation_code"] = code  # still unused
    (await api.call("accounts", "POST", "/v1/accounts", as_=GATEWAY, json=body)).expect(201)


@pytest.mark.parametrize("bad", ["²", "٣", "1" * 5000, str(2**63), "5\n", "05", "0", " 5"])
async def test_a_bad_id_in_a_bulk_follow_is_400_naming_the_item(api, bad):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    for pair, field in (
        ({"user_id": bad, "account_id": shop["id"]}, "user_id"),
        ({"user_id": fan["id"], "account_id": bad}, "account_id"),
    ):
        body = {
            "action": "follow",
            "pairs": [{"user_id": fan["id"], "account_id": shop["id"]}, pair],
        }
        reply = await bulk(api, "follows", body)
        assert_validation_error(reply, f"bulk {field}={bad[:20]!r}")
        assert reply.body["error"]["details"]["field"] == f"$.pairs[1].{field}"
    assert await following_count(api, fan["id"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"max_uses": 1000000000000000000000000000000}',
        b'{"max_uses": ' + b"9" * 5000 + b"}",
        b'{"max_uses": 1, "expires_at": "9999-12-31T23:00:00-05:00"}',
        b'{"max_uses": 1, "expires_at": "0001-01-01T01:00:00+05:00"}',
        '{"max_uses": 1, "expires_at": "２０３０-01-01T00:00:00Z"}'.encode(),
    ],
    ids=["huge", "thousands-of-digits", "past-9999-in-utc", "before-1-in-utc", "wide-digits"],
)
async def test_a_bad_invitation_is_400(api, body):
    reply = await api.call("accounts", "POST", "/v1/invitations", as_=STAFF, data=body)
    assert_validation_error(reply, body[:60])
