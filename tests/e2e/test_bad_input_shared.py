"""Every running service answers ids, limits and cursors that are not canonical, or out of
range, with 400 validation_error, never a 500: each operation of its /openapi.json is
called with every such value in each id parameter, and each page with bad limits and
cursors (the other parameters name a real account, user and post)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest
from yarl import URL

from bench.client import SERVICES
from shared.web import ID_PATTERN
from tests.support import consumers, publish, seller

BAD_IDS = ["5\n", "05", " 5", "-1", "0", "²", "٣", "５", "9" * 20, str(1 << 63), "9" * 5000]
BAD_LIMITS = [*BAD_IDS, "", "101"]
STAFF_PATHS = ("/v1/invitations", "/suspend", "/unsuspend", "/v1/admin/")


def cursor_of(position: list[int]) -> str:
    """A cursor encoded as the API encodes one, for numbers the API would never write."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


BAD_CURSORS = [
    cursor_of(p) for p in ([1 << 63], [1 << 63, 1], [1, 1 << 63], [-1], [-1, 5], [1 << 64, 1])
] + ["²", cursor_of([5]) + "\n"]


@pytest.fixture(scope="module")
async def known(api) -> dict[str, str]:
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    post = await publish(api, shop, "bad input target")
    return {"account": shop["id"], "user": fan["id"], "post": post["id"]}


async def operations(api) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(service, METHOD, path template, operation) of every service's published API."""
    found = []
    for service in SERVICES:
        async with api.session.get(api.urls[service] + "/openapi.json") as resp:
            spec = await resp.json()
        for path, methods in spec["paths"].items():
            found += [(service, method.upper(), path, op) for method, op in methods.items()]
    return found


def real_value(name: str, path: str, known: dict[str, str]) -> str:
    if name == "id":
        return known["post" if path.startswith("/v1/posts/") else "account"]
    return known["user"] if name == "user_id" else known["account"] if "account" in name else "1"


async def call(api, service: str, method: str, path: str, values: dict[str, str], query=None):
    encoded = path.format(**{name: quote(value, safe="") for name, value in values.items()})
    role = "staff" if any(p in path for p in STAFF_PATHS) else "service"
    url = URL(api.urls[service] + encoded, encoded=True)
    if query:
        url = url.update_query(query)
    headers = {"Authorization": f"Bearer {api.token('1', role)}"}
    body = {} if method in ("POST", "PUT") else None
    async with api.session.request(method, url, headers=headers, json=body) as resp:
        return resp.status, await resp.json(content_type=None)


def report(wrong: list[tuple]) -> str:
    """How many answers were wrong, by status, and a few of them."""
    statuses = sorted({w[0] for w in wrong})
    lines = [f"{len(wrong)} wrong answers, statuses {statuses}; e.g."]
    return "\n".join(lines + [str(w)[:300] for w in sorted(wrong, key=str, reverse=True)[:6]])


async def test_every_id_parameter_refuses_what_is_not_a_canonical_id(api, known):
    wrong, checked = [], set()
    for service, method, path, op in await operations(api):
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
        values = {name: real_value(name, path, known) for name in params}
        for bad_name, param in params.items():
            if param["schema"].get("pattern") != ID_PATTERN["pattern"]:
                continue  # a handle or a follow token, not an id
            checked.add(service)
            for bad in BAD_IDS:
                status, body = await call(api, service, method, path, {**values, bad_name: bad})
                if status != 400 or body["error"]["code"] != "validation_error":
                    wrong.append((status, method, path, bad_name, bad[:24], body))
    assert checked >= {"accounts", "publishing", "fanout", "feedread"}  # all on today's pattern
    assert not wrong, report(wrong)


async def test_every_page_refuses_bad_limits_and_cursors(api, known):
    wrong, pages = [], 0
    for service, method, path, op in await operations(api):
        names = {p["name"] for p in op.get("parameters", [])}
        if not {"limit", "cursor"} <= names:
            continue
        pages += 1
        path_names = [p["name"] for p in op["parameters"] if p["in"] == "path"]
        values = {name: real_value(name, path, known) for name in path_names}
        queries = [{"limit": v} for v in BAD_LIMITS] + [{"cursor": c} for c in BAD_CURSORS]
        for query in queries:
            status, body = await call(api, service, method, path, values, query)
            field = next(iter(query))
            if status != 400 or body["error"]["details"].get("field") != field:
                wrong.append((status, method, path, {k: v[:24] for k, v in query.items()}, body))
    assert pages >= 4
    assert not wrong, report(wrong)
