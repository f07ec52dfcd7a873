"""Who may call what: every endpoint each service serves (read from its /openapi.json, so a
new route without a rule here fails) × every kind of caller -> exactly API.md's status.

Callers: no token, an expired one, a forged signature, `alg: none` (each 401); the user
the path names ("self"), another user, staff and a service (403 where API.md does not
allow them; anything but 401/403/5xx where it does).
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from bench.client import SERVICES, WeitaoClient
from tests.support import consumers, eventually, publish, seller

SELF, OTHER, STAFF, SERVICE = "self", "other", "staff", "service"
ANYONE = {SELF, OTHER, STAFF, SERVICE}
ACTOR = {SELF, SERVICE}  # API.md: a user acts only as itself; a service for anyone
ACTOR_OR_STAFF = {SELF, SERVICE, STAFF}

# (service, method, path) -> who may call it, and whom the path's subject is ("self").
RULES: dict[tuple[str, str, str], set[str]] = {
    ("accounts", "POST", "/v1/accounts"): {STAFF, SERVICE},
    ("accounts", "GET", "/v1/accounts/{id}"): ANYONE,
    ("accounts", "GET", "/v1/accounts/by-handle/{handle}"): ANYONE,
    ("accounts", "POST", "/v1/invitations"): {STAFF},
    ("accounts", "PUT", "/v1/users/{user_id}/following/{account_id}"): ACTOR,
    ("accounts", "DELETE", "/v1/users/{user_id}/following/{account_id}"): ACTOR,
    ("accounts", "GET", "/v1/users/{user_id}/following"): ACTOR_OR_STAFF,
    ("accounts", "GET", "/v1/accounts/{id}/followers"): ACTOR_OR_STAFF,
    ("accounts", "GET", "/v1/accounts/{id}/follow-token"): ANYONE,
    ("accounts", "GET", "/v1/accounts/{id}/qr.svg"): ANYONE,
    ("accounts", "GET", "/v1/accounts/{id}/qr.png"): ANYONE,
    ("accounts", "POST", "/v1/follow-tokens/{token}/redeem"): {SELF, OTHER},
    ("accounts", "POST", "/v1/accounts/{id}/suspend"): {STAFF},
    ("accounts", "POST", "/v1/accounts/{id}/unsuspend"): {STAFF},
    ("accounts", "POST", "/v1/admin/bulk/accounts"): {STAFF},
    ("accounts", "POST", "/v1/admin/bulk/follows"): {STAFF},
    ("publishing", "POST", "/v1/accounts/{account_id}/posts"): ACTOR,
    ("publishing", "GET", "/v1/accounts/{account_id}/posts"): ANYONE,
    ("publishing", "GET", "/v1/posts/{id}"): ANYONE,
    ("publishing", "DELETE", "/v1/posts/{id}"): ACTOR_OR_STAFF,
    # A comment is written as the caller's account: users only.
    ("publishing", "POST", "/v1/posts/{id}/comments"): {SELF, OTHER},
    ("publishing", "GET", "/v1/posts/{id}/comments"): ANYONE,
    ("publishing", "DELETE", "/v1/posts/{id}/comments/{comment_id}"): ACTOR_OR_STAFF,
    ("publishing", "PUT", "/v1/posts/{id}/likes/{user_id}"): ACTOR,
    ("publishing", "DELETE", "/v1/posts/{id}/likes/{user_id}"): ACTOR,
    ("publishing", "PUT", "/v1/posts/{id}/votes/{user_id}"): ACTOR,
    ("publishing", "PUT", "/v1/posts/{id}/group-buy/participants/{user_id}"): ACTOR,
    ("publishing", "DELETE", "/v1/posts/{id}/group-buy/participants/{user_id}"): ACTOR,
    ("feedread", "GET", "/v1/users/{user_id}/feed"): ACTOR,
    ("feedread", "POST", "/v1/events"): ACTOR,
    ("fanout", "POST", "/v1/admin/users/{user_id}/feed/rebuild"): {STAFF, SERVICE},
    ("fanout", "GET", "/v1/admin/stats"): {STAFF},
    ("insights", "GET", "/v1/accounts/{id}/stats"): ACTOR_OR_STAFF,
    ("insights", "GET", "/v1/posts/{id}/stats"): ACTOR_OR_STAFF,
    ("insights", "GET", "/v1/recommendations/official"): ANYONE,
    ("insights", "GET", "/v1/users/{user_id}/recommendations"): ACTOR,
    ("insights", "GET", "/v1/admin/suspicious"): {STAFF},
    ("notifications", "GET", "/v1/users/{user_id}/notifications"): ACTOR,
    ("notifications", "GET", "/v1/users/{user_id}/notifications/unread_count"): ACTOR,
    ("notifications", "POST", "/v1/users/{user_id}/notifications/read"): ACTOR,
}


async def served_routes(api: WeitaoClient) -> list[tuple[str, str, str]]:
    """(service, method, path) of every route each running service documents."""
    routes = []
    for service in SERVICES:
        spec = (await api.call(service, "GET", "/openapi.json", as_=None)).expect(200)
        for path, methods in spec["paths"].items():
            routes.extend((service, method.upper(), path) for method in methods)
    return routes


def bad_tokens(secret: str, sub: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": sub, "role": "service", "exp": now + 600}
    return {
        "no token": "",
        "expired": jwt.encode({**claims, "exp": now - 60}, secret, algorithm="HS256"),
        "forged signature": jwt.encode(claims, "another-secret-" * 3, algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
    }


class World:
    """Fresh accounts, a post and a comment for one route: a call may change them."""

    async def make(self, api: WeitaoClient) -> World:
        self.shop = await seller(api)
        self.user, self.other = await consumers(api, 2)
        self.post = await publish(api, self.shop, "access matrix")
        comment = await api.call(
            "publishing",
            "POST",
            f"/v1/posts/{self.post['id']}/comments",
            as_=(self.user["id"], "user"),
            json={"text": "好"},
        )
        self.comment_id = comment.expect(201)["id"]
        token = await api.call(
            "accounts", "GET", f"/v1/accounts/{self.shop['id']}/follow-token", as_=("o", "staff")
        )
        self.follow_token = token.expect(200)["token"]
        return self

    def subject(self, path: str) -> str:
        """The account the path acts on, whose own user token is the "self" caller."""
        if "{user_id}" in path or "{token}" in path or "{comment_id}" in path:
            return self.user["id"]
        if path == "/v1/events":
            return self.user["id"]
        return self.shop["id"]

    def fill(self, path: str) -> str:
        values = {
            "{user_id}": self.user["id"],
            "{account_id}": self.shop["id"],
            "{handle}": self.shop["handle"],
            "{token}": self.follow_token,
            "{comment_id}": str(self.comment_id),
        }
        if path.startswith("/v1/posts/"):
            values["{id}"] = self.post["id"]
        values.setdefault("{id}", self.shop["id"])
        for name, value in values.items():
            path = path.replace(name, value)
        return path

    def body(self, path: str) -> Any:
        if path == "/v1/events":
            event = {"type": "view", "user_id": self.user["id"], "account_id": self.shop["id"]}
            return {"events": [event]}
        return {}


async def _call(
    api: WeitaoClient, service: str, method: str, path: str, token: str | None, body: Any
) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.session.request(
        method, api.urls[service] + path, json=body, headers=headers
    ) as reply:
        await reply.read()
        return reply.status


async def test_every_endpoint_answers_each_caller_as_api_md_says(api: WeitaoClient):
    routes = [r for r in await served_routes(api) if r[2].startswith("/v1/")]
    unruled = [r for r in routes if r not in RULES]
    assert not unruled, f"routes with no access rule in this test: {unruled}"
    wrong = []
    for service, method, path in routes:
        world = await World().make(api)
        url = world.fill(path)
        if path.endswith("/stats") and service == "insights":  # it learns owners over Kafka
            await eventually(
                lambda url=url: _call(api, "insights", "GET", url, api.token("o", "staff"), None),
                lambda status: status == 200,
                timeout_s=30,
                what=f"insights knows {url}",
            )
        body = world.body(path) if method in ("POST", "PUT") else None
        for name, token in bad_tokens(api.secret, world.subject(path)).items():
            status = await _call(api, service, method, url, token, body)
            if status != 401:
                wrong.append((method, path, name, status, 401))
        callers = {
            OTHER: api.token(world.other["id"], "user"),
            STAFF: api.token("ops", "staff"),
            SELF: api.token(world.subject(path), "user"),
            SERVICE: api.token("gateway", "service"),
        }
        allowed = RULES[(service, method, path)]
        # Refused callers first: an allowed call may change what the next one finds.
        for who in sorted(callers, key=lambda c: c in allowed):
            status = await _call(api, service, method, url, callers[who], body)
            ok = status not in (401, 403) and status < 500 if who in allowed else status == 403
            if not ok:
                expected = "not 401/403/5xx" if who in allowed else 403
                wrong.append((method, path, who, status, expected))
    assert not wrong, "\n".join(map(str, wrong))
