"""The middlewares every service runs: errors in API.md's format (and 413), JWT auth on
every route not marked public, and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.auth import principal_from_header
from shared.config import Secret
from shared.errors import ApiError, DomainError
from shared.web.handlers import PRINCIPAL, json_response
from shared.web.routes import Handler, Route

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # API.md: a body over 256 KiB is a 413

JWT_SECRET = web.AppKey("jwt_secret", Secret)
ERROR_STATUSES = web.AppKey("domain_error_statuses", dict[type[DomainError], int])
# aiohttp's route of each endpoint -> its `Route` (whether it is public, say).
ROUTES = web.AppKey("weitao_routes", dict[web.AbstractRoute, Route])


def error_response(error: ApiError) -> web.Response:
    """`error` as API.md's error body with its status and headers."""
    return json_response(error.body(), error.status, error.headers)


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
        return error_response(exc)
    except DomainError as exc:
        status = _domain_status(request.app[ERROR_STATUSES], exc)
        return error_response(ApiError(status, exc.code, exc.message, exc.details))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # A 405 names the methods the path has (RFC 9110).
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(ApiError(exc.status, _http_error_code(exc), exc.reason, None, allow))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(ApiError(500, "internal_error", "internal error"))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every matched /v1 route not marked public needs a valid bearer token (API.md)."""
    route = request.app[ROUTES].get(request.match_info.route)
    if route is not None and not route.public:
        request[PRINCIPAL] = principal_from_header(
            request.headers.get("Authorization"), request.app[JWT_SECRET].reveal()
        )
    return await handler(request)


def metrics_middleware(registry: CollectorRegistry) -> Middleware:
    """Counts requests by method, route and status, and times them, in `registry`."""
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

    # Each label set's child, made once: labels() takes a lock and checks its arguments.
    counted: dict[tuple[str, str, int], Any] = {}
    timed: dict[str, Any] = {}

    @web.middleware
    async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            key = (request.method, route, status)
            if key not in counted:
                counted[key] = requests.labels(request.method, route, str(status))
            if route not in timed:
                timed[route] = latency.labels(route)
            counted[key].inc()
            timed[route].observe(time.perf_counter() - started)

    return measured
