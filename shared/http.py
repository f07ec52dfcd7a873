"""The HTTP side every service shares: routes with their OpenAPI description, the
middlewares (errors in API.md's format, 413, JWT auth, metrics), orjson responses,
body decoding with field-named 400s, and the ops endpoints."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import orjson
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from shared.auth import Principal, principal_from_header
from shared.config import Secret
from shared.errors import ApiError, DomainError, validation_error
from shared.ids import ID_REGEX, parse_id
from shared.openapi import openapi_spec

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # API.md: a body over 256 KiB is a 413

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReadinessCheck = Callable[[], Awaitable[object]]
T = TypeVar("T")

JWT_SECRET = web.AppKey("jwt_secret", Secret)
METRICS = web.AppKey("metrics_registry", CollectorRegistry)
READINESS = web.AppKey("readiness_checks", dict)
OPENAPI = web.AppKey("openapi_spec", bytes)
ERROR_STATUSES = web.AppKey("domain_error_statuses", dict)
_PRINCIPAL = web.RequestKey("weitao_principal", Principal)


@dataclass(frozen=True)
class Param:
    """A path or query parameter, as documented in /openapi.json."""

    name: str
    where: str = "query"  # "path" | "query"
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Route:
    """One endpoint: how it is served and how /openapi.json describes it."""

    method: str
    path: str
    handler: Handler
    summary: str
    status: int = 200
    body: type | None = None
    response: type | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    public: bool = False  # no bearer token needed
    content_type: str = "application/json"


ID_PATTERN = {"type": "string", "pattern": ID_REGEX}  # canonical decimal, 1..2^63-1
LIMIT = Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100})


def cursor_param(arity: int) -> Param:
    """`?cursor=` of a page whose position is `arity` integers (shared.pagination).

    Its format names that shape: a cursor is opaque to clients, so no pattern could
    admit exactly the ones the API issues, and a fuzzer must be taught to make them
    (tests/e2e/contract_hooks.py) instead of guessing strings.
    """
    return Param(
        "cursor",
        schema={"type": "string", "format": f"weitao-cursor-{arity}"},
        description="opaque: the next_cursor of the previous page",
    )


CURSOR = cursor_param(1)
FEED_CURSOR = cursor_param(2)  # [score, id]


def id_param(name: str) -> Param:
    return Param(name, "path", ID_PATTERN, required=True)


# ---------------------------------------------------------------- request helpers


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware put it there)."""
    return request[_PRINCIPAL]


def path_id(request: web.Request, name: str) -> int:
    """A 64-bit id from the path; 400 naming the parameter when it is not one."""
    value = parse_id(request.match_info[name])
    if value is None:
        raise validation_error(name, f"{name} must be a canonical decimal id from 1 to 2^63-1")
    return value


async def read_body(request: web.Request, kind: type[T]) -> T:
    """Decodes and validates a JSON body into `kind`; 400 validation_error names the field."""
    raw = await request.read()
    if b"\\u0000" in raw:  # Postgres text cannot hold NUL: refuse it here, not with a 500
        raise validation_error("$", "strings must not contain the NUL character")
    try:
        return msgspec.json.decode(raw, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raise validation_error(_field_of(str(exc)), str(exc)) from None
    except msgspec.DecodeError as exc:
        raise validation_error("$", f"malformed JSON: {exc}") from None


def _field_of(message: str) -> str:
    """The JSON path msgspec names in a validation message (`... - at `$.title``)."""
    path = message.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in message else "$"
    if message.startswith("Object contains unknown field `"):
        path = f"{path}.{message.split('`')[1]}"
    return path


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)


# ---------------------------------------------------------------- middlewares


def _http_error_code(exc: web.HTTPException) -> str:
    return {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }.get(exc.status, exc.reason.lower().replace(" ", "_"))


def _domain_status(statuses: dict[type[DomainError], int], exc: DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in statuses:
            return statuses[kind]
    log.error("unmapped domain error", extra={"error": type(exc).__name__})
    return 500  # a domain error the service forgot to map is a bug


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Renders every failure in API.md's error format; a bug is a logged 500, never a trace."""
    try:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"body over {MAX_BODY_BYTES} bytes")
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.body(), exc.status)
    except DomainError as exc:
        status = _domain_status(request.app[ERROR_STATUSES], exc)
        error = ApiError(status, exc.code, exc.message, exc.details)
        return json_response(error.body(), status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = ApiError(exc.status, _http_error_code(exc), exc.reason)
        response = json_response(error.body(), exc.status)
        if "Allow" in exc.headers:  # a 405 names the methods the path has (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        error = ApiError(500, "internal_error", "internal error")
        return json_response(error.body(), 500)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every matched /v1 route not marked public needs a valid bearer token (API.md)."""
    route: Route | None = getattr(request.match_info.handler, "weitao_route", None)
    if route is not None and not route.public:
        request[_PRINCIPAL] = principal_from_header(
            request.headers.get("Authorization"), request.app[JWT_SECRET].reveal()
        )
    return await handler(request)


def _metrics_middleware(registry: CollectorRegistry) -> Any:
    requests = Counter(
        "http_requests", "HTTP requests served", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency",
        ["route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )

    @web.middleware
    async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            requests.labels(request.method, route, str(status)).inc()
            latency.labels(route).observe(time.perf_counter() - started)

    return metrics_middleware


# ---------------------------------------------------------------- ops endpoints


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


async def healthz(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when every dependency answers within a second, else 503 naming the failing ones."""
    checks: dict[str, ReadinessCheck] = request.app[READINESS]

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
        error = ApiError(503, "not_ready", "dependencies not answering", {"failing": failing})
        return json_response(error.body(), 503)
    return json_response({"status": "ready", "checks": sorted(results)})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
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


# ---------------------------------------------------------------- the app


def build_app(
    title: str,
    jwt_secret: Secret,
    routes: tuple[Route, ...],
    error_statuses: dict[type[DomainError], int] | None = None,
) -> web.Application:
    """An aiohttp app serving `routes` and the ops endpoints, with every shared middleware.

    `error_statuses` maps the service's domain errors to the HTTP status API.md gives them.
    """
    registry = CollectorRegistry()
    app = web.Application(
        # Metrics outermost: they count the status the caller really got.
        middlewares=[_metrics_middleware(registry), error_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[JWT_SECRET] = jwt_secret
    app[METRICS] = registry
    app[READINESS] = {}
    app[ERROR_STATUSES] = dict(error_statuses or {})
    all_routes = OPS_ROUTES + routes
    for r in all_routes:
        handler = r.handler

        async def routed(request: web.Request, _handler: Handler = handler) -> web.StreamResponse:
            return await _handler(request)

        routed.weitao_route = r  # type: ignore[attr-defined]
        app.router.add_route(r.method, r.path, routed)
    app[OPENAPI] = orjson.dumps(openapi_spec(title, all_routes))
    return app


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS][name] = check
