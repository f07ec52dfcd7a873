"""API.md "Projections" for feedread: a feed read for a reader whose account has not
reached feedread yet waits for it (bounded), then answers 503 not_ready with Retry-After,
never a page that says the reader has no feed."""

from __future__ import annotations

import asyncio

from shared.ids import IdGenerator
from tests.support import handle

# Ids minted here name no account: as if its account event were still on its way.
fresh_ids = IdGenerator(worker=1015)


async def test_a_reader_whose_account_has_not_arrived_gets_503_not_ready(api):
    reader = str(fresh_ids.next_id())
    url = f"{api.urls['feedread']}/v1/users/{reader}/feed"
    headers = {"Authorization": f"Bearer {api.token(reader, 'user')}"}
    async with api.session.get(url, headers=headers) as reply:
        body = await reply.json()
        assert reply.status == 503, body
        assert body["error"]["code"] == "not_ready"
        assert int(reply.headers["Retry-After"]) >= 1


async def test_a_reader_read_right_after_sign_up_is_served_every_time(api):
    async def sign_up_and_read() -> int:
        user = await api.create_account(handle("fresh"), "consumer")
        reply = await api.call(
            "feedread", "GET", f"/v1/users/{user['id']}/feed", as_=(user["id"], "user")
        )
        return reply.status

    assert await asyncio.gather(*(sign_up_and_read() for _ in range(20))) == [200] * 20


async def test_an_id_unknown_long_after_it_was_minted_is_answered_at_once(api):
    reply = await api.call("feedread", "GET", "/v1/users/5/feed", as_=("5", "user"))
    assert reply.status == 200 and reply.body == {"items": [], "next_cursor": None}
