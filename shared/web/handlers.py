"""What a handler uses: the authenticated caller, ids from the path, validated bodies
with field-named 400s, and JSON responses."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import orjson
from aiohttp import web

from shared.auth import Principal
from shared.errors import validation_error
from shared.ids import parse_id

T = TypeVar("T")

PRINCIPAL = web.RequestKey("weitao_principal", Principal)  # set by the auth middleware


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware put it there)."""
    return request[PRINCIPAL]


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


def json_response(
    payload: msgspec.Struct | Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """`payload` as an application/json response. A msgspec Struct (the shape the route
    documents in /openapi.json) is encoded by msgspec itself, so the served shape is the
    documented one; anything else (dicts of ops endpoints) by orjson."""
    body = (
        _STRUCTS.encode(payload) if isinstance(payload, msgspec.Struct) else orjson.dumps(payload)
    )
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


_STRUCTS = msgspec.json.Encoder()


def no_content() -> web.Response:
    """An empty 204."""
    return web.Response(status=204)
