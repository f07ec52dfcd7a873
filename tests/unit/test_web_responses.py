"""json_response: a documented Struct is served exactly as its schema says."""

from __future__ import annotations

import msgspec
import orjson

from shared.web import json_response


class _Page(msgspec.Struct):
    items: list[int]
    next_cursor: str | None


def test_a_struct_is_served_field_for_field_nulls_included():
    response = json_response(_Page(items=[1, 2], next_cursor=None), 201)
    assert response.status == 201
    assert response.content_type == "application/json"
    assert orjson.loads(response.body) == {"items": [1, 2], "next_cursor": None}


def test_a_plain_dict_still_encodes():
    assert orjson.loads(json_response({"status": "ok"}).body) == {"status": "ok"}
