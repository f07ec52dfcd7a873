"""The HTTP side every service shares (aiohttp).

- `routes`: the route table's `Route` and `Param`, and the shared parameters.
- `handlers`: what a handler uses: the caller, path ids, validated bodies, responses.
- `middlewares`: errors in API.md's format, 413, JWT auth, metrics.
- `ops`: /healthz, /readyz, /metrics, /openapi.json.
- `openapi`: the OpenAPI document made from the route tables.
- `app`: `build_app`, which puts them together.
"""

from shared.web.app import build_app
from shared.web.handlers import json_response, no_content, path_id, principal, read_body
from shared.web.ops import METRICS, add_readiness_check
from shared.web.routes import (
    CURSOR,
    FEED_CURSOR,
    ID_PATTERN,
    LIMIT,
    Param,
    Route,
    cursor_param,
    id_param,
)

__all__ = [
    "CURSOR",
    "FEED_CURSOR",
    "ID_PATTERN",
    "LIMIT",
    "METRICS",
    "Param",
    "Route",
    "add_readiness_check",
    "build_app",
    "cursor_param",
    "id_param",
    "json_response",
    "no_content",
    "path_id",
    "principal",
    "read_body",
]
