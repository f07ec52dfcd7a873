"""The aiohttp app every service builds: its routes and the ops endpoints, behind the
shared middlewares, with /openapi.json made from the same route tables."""

from __future__ import annotations

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.config import Secret
from shared.errors import DomainError
from shared.web.middlewares import (
    ERROR_STATUSES,
    JWT_SECRET,
    MAX_BODY_BYTES,
    ROUTES,
    auth_middleware,
    error_middleware,
    metrics_middleware,
)
from shared.web.openapi import openapi_spec
from shared.web.ops import METRICS, OPENAPI, OPS_ROUTES, READINESS
from shared.web.routes import Route


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
        middlewares=[metrics_middleware(registry), error_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[JWT_SECRET] = jwt_secret
    app[METRICS] = registry
    app[READINESS] = {}
    app[ERROR_STATUSES] = dict(error_statuses or {})
    all_routes = OPS_ROUTES + routes
    app[ROUTES] = {app.router.add_route(r.method, r.path, r.handler): r for r in all_routes}
    app[OPENAPI] = orjson.dumps(openapi_spec(title, all_routes))
    return app
