"""A publish right after sign-up (API.md "Projections"): publishing learns of accounts
over Kafka, so it may not know a new account yet; it waits, bounded, and never says the
account does not exist."""

from __future__ import annotations

import secrets

from tests.support import handle

ROUNDS = 100


async def test_sign_up_then_publish_at_once_is_never_404(api):
    code = await api.create_invitation(max_uses=ROUNDS, kinds=["seller"])
    statuses: list[int] = []
    for _ in range(ROUNDS):
        shop = await api.create_account(
            handle("fresh"), "seller", category="home", invitation_code=code
        )
        url = f"{api.urls['publishing']}/v1/accounts/{shop['id']}/posts"
        token = api.token(shop["id"], "user")
        body = {"kind": "article", "title": "first words", "body": secrets.token_hex(16)}
        async with api.session.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            payload = await resp.json()
            statuses.append(resp.status)
            if resp.status == 503:
                assert payload["error"]["code"] == "not_ready"
                assert int(resp.headers["Retry-After"]) >= 1
            else:
                assert resp.status == 201, payload
    assert 404 not in statuses


async def test_an_id_minted_long_ago_and_never_seen_is_404(api):
    reply = await api.call(
        "publishing",
        "POST",
        "/v1/accounts/12345/posts",
        as_=("gw", "service"),
        json={"kind": "article", "title": "nobody", "body": ""},
    )
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"
