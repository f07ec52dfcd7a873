"""Pages of API.md: `?limit=` (1-100, default 20) and an opaque `?cursor=`."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from shared.errors import validation_error
from shared.ids import MAX_ID, parse_decimal

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]+")  # what encode_cursor writes: unpadded base64url


def parse_limit(query: Mapping[str, str]) -> int:
    """`?limit=`: DEFAULT_LIMIT when absent; 400 unless a canonical decimal from 1 to 100."""
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    limit = parse_decimal(raw, 1, MAX_LIMIT)
    if limit is None:
        raise validation_error("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def encode_cursor(position: list[Any]) -> str:
    """An opaque cursor for a position, e.g. [score, id] of the last item served."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(query: Mapping[str, str], arity: int) -> list[Any] | None:
    """The position a cursor names, or None on the first page; 400 for a cursor not ours.

    A position is `arity` integers in 0..2^63-1 (Postgres bigints, scores in ms).
    """
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    position = None
    if _CURSOR_TEXT.fullmatch(raw):
        try:
            position = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:  # binascii.Error and orjson.JSONDecodeError are ValueErrors
            position = None
    if (
        not isinstance(position, list)
        or len(position) != arity
        or not all(type(p) is int and 0 <= p <= MAX_ID for p in position)
    ):
        raise validation_error("cursor", "cursor is not one this API issued")
    return position


def page(items: list[Any], next_position: list[Any] | None) -> dict[str, Any]:
    """API.md's page: the items and the cursor of the next page (None on the last)."""
    return {
        "items": items,
        "next_cursor": encode_cursor(next_position) if next_position is not None else None,
    }


def keyed_page_query(query: Mapping[str, str]) -> tuple[int, int | None]:
    """`?limit=` and the key a page keyed by one integer starts after (None: the first page)."""
    limit = parse_limit(query)
    cursor = decode_cursor(query, 1)
    return limit, cursor[0] if cursor else None


def keyed_page(
    rows: Sequence[Mapping[str, Any]], limit: int, key: str, item: Callable[[Any], Any]
) -> dict[str, Any]:
    """`item(row)` of each row as a page; a full page's cursor is its last row's `key`
    (a shorter page is the last one)."""
    next_position = [rows[-1][key]] if len(rows) == limit else None
    return page([item(r) for r in rows], next_position)
