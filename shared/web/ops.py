"""The ops endpoints every service serves without a token: /healthz, /readyz, /metrics
and /openapi.json."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.errors import ApiError
from shared.web.handlers import json_response
from shared.web.middlewares import error_response
from shared.web.routes import Route

ReadinessCheck = Callable[[], Awaitable[object]]

METRICS = web.AppKey("metrics_registry", CollectorRegistry)
READINESS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
OPENAPI = web.AppKey("openapi_spec", bytes)


# The ops responses' shapes, for /openapi.json (a docstring would become its description).
class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: list[str]


class OpenApiDocument(msgspec.Struct):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    """/readyz answers 200 only while `check()` returns within a second."""
    app[READINESS][name] = check


async def healthz(_: web.Request) -> web.Response:
    """200 while the process runs."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when every dependency answers within a second, else 503 naming the failing ones."""
    checks = request.app[READINESS]

    async def probe(check: ReadinessCheck) -> bool:
        try:
            await asyncio.wait_for(check(), timeout=1.0)
            return True
        except Exception:
            return False

    results = dict(
        zip(checks, await asyncio.gather(*(probe(c) for c in checks.values())), strict=True)
    )
    failing = sorted(name for name, ok in results.items() if not ok)
    if failing:
        return error_response(
            ApiError(503, "not_ready", "dependencies not answering", {"failing": failing})
        )
    return json_response({"status": "ready", "checks": sorted(results)})


async def metrics(request: web.Request) -> web.Response:
    """The app's Prometheus registry in the text exposition format."""
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document built from the app's route tables at start-up."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


OPS_ROUTES = (
    Route("GET", "/healthz", healthz, "200 while the process runs", public=True, response=Health),
    Route(
        "GET",
        "/readyz",
        readyz,
        "200 when every dependency answers",
        public=True,
        response=Readiness,
        errors=(503,),
    ),
    Route("GET", "/metrics", metrics, "Prometheus metrics", public=True, content_type="text/plain"),
    Route(
        "GET",
        "/openapi.json",
        openapi,
        "This API as OpenAPI 3",
        public=True,
        response=OpenApiDocument,
    ),
)
