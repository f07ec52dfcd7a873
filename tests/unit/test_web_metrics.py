"""The shared metrics middleware: every request counted by method, route and status, and
timed by route, as /metrics shows them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from shared.config import Secret
from shared.errors import ApiError
from shared.web import Route, build_app, json_response


async def hello(request: web.Request) -> web.Response:
    if request.query.get("fail"):
        raise ApiError(400, "validation_error", "asked to fail")
    return json_response({"ok": True})


async def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    text = await (await client.get("/metrics")).text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_requests_are_counted_by_route_and_status_and_timed_by_route():
    app = build_app("t", Secret("x" * 32), (Route("GET", "/v1/hello", hello, "hi", public=True),))
    async with TestClient(TestServer(app)) as client:
        for query in ("", "", "?fail=1"):
            await client.get(f"/v1/hello{query}")
        seen = await samples(client)
    route = (("method", "GET"), ("route", "/v1/hello"))
    assert seen[("http_requests_total", (*route, ("status", "200")))] == 2
    assert seen[("http_requests_total", (*route, ("status", "400")))] == 1
    assert seen[("http_request_duration_seconds_count", (("route", "/v1/hello"),))] == 3
