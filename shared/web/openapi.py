"""/openapi.json from the route tables: a contract as strict as the servers, so that a
client generated from it is never surprised (every constraint a handler enforces and
every status it can answer is declared)."""

from __future__ import annotations

from typing import Any

import msgspec

from shared.web.routes import Param, Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
_ERROR_RESPONSE = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
# What the shared middlewares can answer beyond the handler: a bad or oversized body,
# and a missing, invalid or insufficient token.
_BODY_ERRORS = frozenset({400, 413})
_AUTH_ERRORS = frozenset({401, 403})


def _parameter(p: Param) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": p.name,
        "in": p.where,
        "required": p.required or p.where == "path",
        "schema": dict(p.schema),
    }
    if p.description:
        spec["description"] = p.description
    return spec


def _body_schema(body: type, ref: dict[str, Any]) -> dict[str, Any]:
    """The body's schema, plus the rules across its fields the handler enforces.

    A body type states those in `openapi_rules` (msgspec cannot express them); they
    apply where the type is the whole body, not where it is nested (bulk items are
    refused one by one in a 2xx, not with a 400).
    """
    rules = getattr(body, "openapi_rules", None)
    return {"allOf": [ref, rules]} if rules else ref


def _operation(r: Route, ref_of: dict[type, dict[str, Any]]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": r.summary}
    if r.status != 204:
        schema = ref_of[r.response] if r.response is not None else {}
        ok["content"] = {r.content_type: {"schema": schema}}
    responses: dict[str, Any] = {str(r.status): ok}
    codes = set(r.errors) | (_BODY_ERRORS if r.body else set())
    if not r.public:
        codes |= _AUTH_ERRORS
    responses.update((str(code), _ERROR_RESPONSE) for code in sorted(codes))
    op: dict[str, Any] = {"summary": r.summary, "responses": responses}
    if r.params:
        op["parameters"] = [_parameter(p) for p in r.params]
    if r.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _body_schema(r.body, ref_of[r.body])}},
        }
    op["security"] = [] if r.public else [{"bearer": []}]
    return op


def openapi_spec(title: str, routes: tuple[Route, ...]) -> dict[str, Any]:
    """OpenAPI 3.0 for the routes; body and response schemas come from their msgspec types."""
    types = sorted(
        {t for r in routes for t in (r.body, r.response) if t is not None},
        key=lambda t: t.__name__,
    )
    refs, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    ref_of = dict(zip(types, refs, strict=True))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, ref_of)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
