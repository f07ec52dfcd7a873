"""A small async client of the Weitao HTTP API, for internal callers: the demo, the tests
and the load harness. It mints its own tokens with the deployment's secret."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from shared.auth import Role, mint_token
from shared.config import Env

SERVICES = ("accounts", "publishing", "fanout", "feedread", "insights", "notifications")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    def expect(self, *statuses: int) -> Any:
        if self.status not in statuses:
            raise AssertionError(f"expected HTTP {statuses}, got {self.status}: {self.body}")
        return self.body


class WeitaoClient:
    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], secret: str) -> None:
        self.session = session
        self.urls = urls
        self.secret = secret
        self._tokens: dict[tuple[str, str], str] = {}

    @classmethod
    def urls_from_env(cls, env: Env | None = None) -> dict[str, str]:
        """Each service's base URL: WEITAO_<NAME>_URL, else the local port on 127.0.0.1."""
        env = env or Env.from_os()
        return {
            name: env.values.get(f"WEITAO_{name.upper()}_URL")
            or f"http://127.0.0.1:{env.int(f'WEITAO_{name.upper()}_PORT')}"
            for name in SERVICES
        }

    def token(self, sub: str | int, role: Role) -> str:
        key = (str(sub), role)
        if key not in self._tokens:
            self._tokens[key] = mint_token(self.secret, sub, role, ttl_s=24 * 3600)
        return self._tokens[key]

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        as_: tuple[str | int, Role] | None,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        headers = {}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(*as_)}"
        body = data
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.urls[service] + path, data=body, headers=headers, params=params
        ) as resp:
            raw = await resp.read()
            try:
                payload = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                payload = raw
            return Reply(resp.status, payload)

    # ------------------------------------------------------------ common calls

    async def create_invitation(self, max_uses: int, **extra: Any) -> str:
        reply = await self.call(
            "accounts",
            "POST",
            "/v1/invitations",
            as_=("staff", "staff"),
            json={"max_uses": max_uses, **extra},
        )
        return reply.expect(201)["code"]

    async def create_account(
        self, handle: str, kind: str = "consumer", **extra: Any
    ) -> dict[str, Any]:
        body = {
            "handle": handle,
            "kind": kind,
            "display_name": extra.pop("display_name", handle),
            **extra,
        }
        reply = await self.call(
            "accounts", "POST", "/v1/accounts", as_=("gateway", "service"), json=body
        )
        return reply.expect(201)

    async def follow(self, user_id: str, account_id: str) -> None:
        reply = await self.call(
            "accounts", "PUT", f"/v1/users/{user_id}/following/{account_id}", as_=(user_id, "user")
        )
        reply.expect(204)

    async def unfollow(self, user_id: str, account_id: str) -> None:
        reply = await self.call(
            "accounts",
            "DELETE",
            f"/v1/users/{user_id}/following/{account_id}",
            as_=(user_id, "user"),
        )
        reply.expect(204)

    async def publish(
        self, account_id: str, title: str, body: str = "", **extra: Any
    ) -> dict[str, Any]:
        """Publishes an article (or `kind=...`) as the account; the post with its quota."""
        post = {"kind": "article", "title": title, "body": body, **extra}
        return (await self.publish_reply(account_id, post)).expect(201)

    async def publish_reply(
        self, account_id: str, post: dict[str, Any], retry_for_s: float = 10.0
    ) -> Reply:
        """POSTs a post as the account (a just-created account's 503 not_ready retried)."""
        return await self.until_known(
            lambda: self.call(
                "publishing",
                "POST",
                f"/v1/accounts/{account_id}/posts",
                as_=(account_id, "user"),
                json=post,
            ),
            retry_for_s,
        )

    async def feed(self, user_id: str, **params: Any) -> dict[str, Any]:
        """A page of the user's feed (a just-created user's 503 not_ready retried)."""
        reply = await self.until_known(
            lambda: self.call(
                "feedread",
                "GET",
                f"/v1/users/{user_id}/feed",
                as_=(user_id, "user"),
                params=params or None,
            )
        )
        return reply.expect(200)

    @staticmethod
    async def until_known(call: Callable[[], Awaitable[Reply]], retry_for_s: float = 10.0) -> Reply:
        """The call's reply, retried while it is 503 (API.md "Projections": a service that
        learns of a just-created account over Kafka says not_ready until it has) for up to
        `retry_for_s`."""
        deadline = time.monotonic() + retry_for_s
        while True:
            reply = await call()
            if reply.status != 503 or time.monotonic() > deadline:
                return reply
            await asyncio.sleep(0.1)  # Retry-After says 1 s; the projection is usually sooner
