"""API.md's common rules: bearer auth, the error format, bad input stores nothing."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.support import consumers, handle, publish, seller


def assert_error(reply, status: int, code: str) -> dict:
    assert reply.status == status, reply.body
    error = reply.body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


async def test_a_call_without_a_token_is_401(api):
    reply = await api.call("accounts", "GET", "/v1/accounts/1", as_=None)
    assert_error(reply, 401, "unauthorized")


async def test_a_token_signed_with_another_secret_is_401(api):
    forged = jwt.encode(
        {"sub": "1", "role": "staff", "exp": int(time.time()) + 60},
        "not-the-deployment-secret-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    async with api.session.get(
        api.urls["accounts"] + "/v1/accounts/1", headers={"Authorization": f"Bearer {forged}"}
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_an_expired_token_is_401(api):
    expired = jwt.encode(
        {"sub": "1", "role": "staff", "exp": int(time.time()) - 5}, api.secret, algorithm="HS256"
    )
    async with api.session.get(
        api.urls["feedread"] + "/v1/users/1/feed", headers={"Authorization": f"Bearer {expired}"}
    ) as resp:
        assert resp.status == 401


async def test_a_user_reading_another_users_feed_is_403(api):
    alice, bob = await consumers(api, 2)
    reply = await api.call(
        "feedread", "GET", f"/v1/users/{bob['id']}/feed", as_=(alice["id"], "user")
    )
    assert_error(reply, 403, "forbidden")
    own = await api.call(
        "feedread", "GET", f"/v1/users/{alice['id']}/feed", as_=(alice["id"], "user")
    )
    assert own.status == 200 and own.body == {"items": [], "next_cursor": None}


async def test_a_service_may_read_any_feed_and_a_user_may_not_publish_for_another(api):
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    reply = await api.call(
        "feedread", "GET", f"/v1/users/{fan['id']}/feed", as_=("gateway", "service")
    )
    assert reply.status == 200
    reply = await api.call(
        "publishing",
        "POST",
        f"/v1/accounts/{shop['id']}/posts",
        as_=(fan["id"], "user"),
        json={"kind": "article", "title": "t", "body": "b"},
    )
    assert_error(reply, 403, "forbidden")


async def test_unknown_path_is_404_in_the_error_format(api):
    reply = await api.call("accounts", "GET", "/v1/nothing-here", as_=("x", "service"))
    assert_error(reply, 404, "not_found")


BAD_POSTS = [
    pytest.param(b'{"kind": "article", "title": ', 400, "validation_error", "$", id="malformed"),
    pytest.param(
        b'{"kind": "article", "title": 42, "body": ""}',
        400,
        "validation_error",
        "$.title",
        id="wrong-type",
    ),
    pytest.param(
        b'{"kind": "poem", "title": "t", "body": ""}',
        400,
        "validation_error",
        "$.kind",
        id="unknown-kind",
    ),
    pytest.param(
        b'{"kind": "article", "title": "t", "body": "", "colour": 1}',
        400,
        "validation_error",
        "$.colour",
        id="unknown-field",
    ),
    pytest.param(
        b'{"kind": "product", "title": "t", "body": ""}',
        400,
        "validation_error",
        "$.products",
        id="product-without-products",
    ),
    pytest.param(
        b'{"kind": "article", "title": "' + b"x" * 61 + b'", "body": ""}',
        400,
        "validation_error",
        "$.title",
        id="title-too-long",
    ),
    pytest.param(
        b'{"kind": "article", "title": "t", "body": "' + b"x" * 300 * 1024 + b'"}',
        413,
        "payload_too_large",
        None,
        id="300-KiB-body",
    ),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), BAD_POSTS)
async def test_a_bad_post_is_a_4xx_naming_the_problem_and_nothing_is_stored(
    api, body, status, code, field
):
    shop = await seller(api)
    await publish(api, shop, "the only post")  # also waits until publishing knows shop
    reply = await api.call(
        "publishing",
        "POST",
        f"/v1/accounts/{shop['id']}/posts",
        as_=(shop["id"], "user"),
        data=body,
    )
    error = assert_error(reply, status, code)
    if field is not None:
        assert error["details"]["field"] == field
    posts = await api.call(
        "publishing", "GET", f"/v1/accounts/{shop['id']}/posts", as_=(shop["id"], "user")
    )
    assert [p["title"] for p in posts.expect(200)["items"]] == ["the only post"]


async def test_a_bad_account_is_refused_and_its_handle_stays_free(api):
    name = handle("bad")
    for body in (
        {"handle": name, "kind": "consumer"},  # no display_name
        {"handle": name, "kind": "alien", "display_name": "x"},
        {"handle": "NO CAPS", "kind": "consumer", "display_name": "x"},
        {"handle": name, "kind": "seller", "display_name": "x", "category": "beauty"},
    ):
        reply = await api.call("accounts", "POST", "/v1/accounts", as_=("gw", "service"), json=body)
        assert 400 <= reply.status < 500 and "error" in reply.body, reply.body
    lookup = await api.call(
        "accounts", "GET", f"/v1/accounts/by-handle/{name}", as_=("gw", "service")
    )
    assert_error(lookup, 404, "not_found")
