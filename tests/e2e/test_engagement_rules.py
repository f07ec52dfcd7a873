"""POST /v1/events on the running stack (API.md feedread): canonical ids, a user reports
only for itself, `at` near now, a purchase counted once per order, a rate limit."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta
from typing import Any

import pytest

from bench.client import Reply, WeitaoClient
from shared.auth import Role
from shared.events import EngagementRecorded
from shared.timeutil import rfc3339, utcnow
from tests.support import consumers, events_of_type, seller


async def report(api: WeitaoClient, events: list[dict[str, Any]], as_: tuple[str, Role]) -> Reply:
    return await api.call("feedread", "POST", "/v1/events", as_=as_, json={"events": events})


@pytest.fixture(scope="module")
async def people(api) -> dict[str, str]:
    shop = await seller(api)
    fan, other = await consumers(api, 2)
    return {"shop": shop["id"], "fan": fan["id"], "other": other["id"]}


def view(user_id: str, account_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "view", "user_id": user_id, "account_id": account_id, **extra}


@pytest.mark.parametrize(
    ("user_id", "status"),
    [
        ("5", 403),  # canonical, but someone else
        ("05", 400),
        ("+5", 400),
        (" 5", 400),
        ("5\n", 400),
        ("²", 400),
        ("٥", 400),  # an Arabic-Indic five
        ("9223372036854775808", 400),  # 2^63
        ("", 400),
    ],
)
async def test_a_user_id_must_be_the_callers_canonical_id(api, people, user_id, status):
    reply = await report(
        api,
        [view(people["fan"], people["shop"]), view(user_id, people["shop"])],
        (people["fan"], "user"),
    )
    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == ("forbidden" if status == 403 else "validation_error")
    if status == 400:
        assert "[1]" in reply.body["error"]["details"]["field"]


async def test_a_non_canonical_account_or_post_id_is_a_400(api, people):
    fan = people["fan"]
    for event in (view(fan, "0" + people["shop"]), view(fan, people["shop"], post_id="7\n")):
        reply = await report(api, [event], (fan, "user"))
        assert reply.status == 400
        assert reply.body["error"]["details"]["field"].startswith("$.events[0].")


async def test_a_user_reports_for_itself_and_a_service_for_anyone(api, people):
    own = await report(api, [view(people["fan"], people["shop"])], (people["fan"], "user"))
    assert own.status == 202 and own.body == {"accepted": 1}
    for_other = await report(api, [view(people["other"], people["shop"])], (people["fan"], "user"))
    assert for_other.status == 403
    gateway = await report(
        api,
        [view(people["other"], people["shop"]), view(people["fan"], people["shop"])],
        ("gateway", "service"),
    )
    assert gateway.status == 202
    staff = await report(api, [view(people["fan"], people["shop"])], ("staff", "staff"))
    assert staff.status == 403


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (timedelta(minutes=-4), 202),
        (timedelta(minutes=4), 202),
        (timedelta(minutes=-6), 400),
        (timedelta(minutes=6), 400),
        (timedelta(days=-30), 400),
    ],
)
async def test_at_lies_within_five_minutes_of_now(api, people, offset, status):
    event = view(people["fan"], people["shop"], at=rfc3339(utcnow() + offset))
    reply = await report(api, [view(people["fan"], people["shop"]), event], (people["fan"], "user"))
    assert reply.status == status, reply.body
    if status == 400:
        assert reply.body["error"]["details"] == {"field": "$.events[1].at", "index": 1}


def purchase(people: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {"type": "purchase", "user_id": people["fan"], "account_id": people["shop"], **fields}


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_cents": 100},  # no order
        {"order_id": "o-1"},  # no amount
        {"order_id": "o-1", "amount_cents": 0},
        {"order_id": "o-1", "amount_cents": -5},
        {"order_id": "o-1", "amount_cents": 10**11},
        {"order_id": "o-1\n", "amount_cents": 100},
        {"order_id": "", "amount_cents": 100},
    ],
)
async def test_a_purchase_needs_an_order_and_a_bounded_positive_amount(api, people, fields):
    reply = await report(api, [purchase(people, **fields)], (people["fan"], "user"))
    assert reply.status == 400, reply.body


async def test_an_order_carried_by_a_view_is_a_400(api, people):
    reply = await report(
        api, [view(people["fan"], people["shop"], order_id="o-2")], (people["fan"], "user")
    )
    assert reply.status == 400


async def test_an_order_counts_once_however_often_it_is_reported(api, people, stack):
    shop = await seller(api)
    order = f"ord-{secrets.token_hex(8)}"
    bought = {**purchase(people, order_id=order, amount_cents=12_900), "account_id": shop["id"]}
    seen = view(people["fan"], shop["id"])
    for _ in range(2):  # a retried batch, which also repeats the purchase inside itself
        reply = await report(api, [seen, bought, bought], (people["fan"], "user"))
        assert reply.status == 202

    recorded = await events_of_type(
        stack.str("WEITAO_KAFKA_BOOTSTRAP"), {shop["id"]}, EngagementRecorded
    )
    assert [e.action for e in recorded].count("view") == 2
    purchases = [e for e in recorded if e.action == "purchase"]
    assert [(e.order_id, e.amount_cents) for e in purchases] == [(order, 12_900)]


async def test_a_caller_past_its_rate_is_told_when_to_come_back(api, people):
    (fan,) = await consumers(api, 1)
    batch = [view(fan["id"], people["shop"])] * 500
    if time.time() % 60 > 50:  # the limit counts per minute: stay inside one
        await asyncio.sleep(61 - time.time() % 60)
    for _ in range(2):  # 1,000 events a minute
        assert (await report(api, batch, (fan["id"], "user"))).status == 202
    url = api.urls["feedread"] + "/v1/events"
    headers = {"Authorization": f"Bearer {api.token(fan['id'], 'user')}"}
    async with api.session.post(url, json={"events": batch[:1]}, headers=headers) as response:
        body = await response.json()
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert body["error"]["code"] == "rate_limited"
    assert set(body["error"]) == {"code", "message", "details"}
    other = await report(api, [view(people["other"], people["shop"])], (people["other"], "user"))
    assert other.status == 202  # the limit is the caller's own
