"""Pages of API.md: `?limit=` (1-100, default 20) and an opaque `?cursor=`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from shared.errors import validation_error

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def parse_limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise validation_error("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def encode_cursor(position: list[Any]) -> str:
    """An opaque cursor for a position, e.g. [score, id] of the last item served."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(query: Mapping[str, str], arity: int) -> list[Any] | None:
    """The position a cursor names, or None on the first page; 400 for a cursor not ours."""
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        position = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        position = None
    if (
        not isinstance(position, list)
        or len(position) != arity
        or not all(isinstance(p, int) and not isinstance(p, bool) for p in position)
    ):
        raise validation_error("cursor", "cursor is not one this API issued")
    return position


def page(items: list[Any], next_position: list[Any] | None) -> dict[str, Any]:
    return {
        "items": items,
        "next_cursor": encode_cursor(next_position) if next_position is not None else None,
    }
