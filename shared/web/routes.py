"""Route tables: each endpoint with how it is served and how /openapi.json describes it,
and the parameters the services share (ids, `?limit=`, cursors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.ids import ID_REGEX

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    """A required path parameter holding a canonical 64-bit id."""
    return Param(name, "path", ID_PATTERN, required=True)
