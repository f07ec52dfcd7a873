"""Every id, limit and cursor parser of shared/ takes canonical ASCII decimal only, in
range, and answers anything else with a 400 validation_error, never an exception."""

from __future__ import annotations

import base64
import json
import re

import pytest
from aiohttp.test_utils import make_mocked_request

from shared.errors import ApiError
from shared.ids import MAX_ID, decimal_pattern, parse_decimal, parse_id
from shared.pagination import decode_cursor, encode_cursor, parse_limit
from shared.web import ID_PATTERN, path_id

# Text a lax parser reads as a number: trailing newline, leading zero or space, signs,
# superscript, Arabic-Indic and full-width digits, too long, too big, empty.
NOT_CANONICAL = [
    "5\n",
    "05",
    " 5",
    "5 ",
    "+5",
    "-1",
    "²",
    "٣",
    "５",
    "1_000",
    "",
    "9" * 20,
    "9" * 5000,
    "0x10",
    "5.0",
]


def cursor_of(position: object) -> str:
    """A cursor as encode_cursor writes it, for any JSON (orjson refuses ints past 64 bits)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize("text", [*NOT_CANONICAL, "0", str(MAX_ID + 1), str(1 << 64)])
def test_parse_id_refuses_text_that_is_not_a_canonical_id(text):
    assert parse_id(text) is None


@pytest.mark.parametrize("value", [1, 7, 10, 1_000_000, MAX_ID])
def test_parse_id_reads_every_id_in_range(value):
    assert parse_id(str(value)) == value


def test_parse_decimal_keeps_zero_canonical_and_applies_the_range():
    assert parse_decimal("0", 0, 5) == 0
    assert parse_decimal("6", 0, 5) is None
    assert parse_decimal(5, 0, 5) is None  # not text


@pytest.mark.parametrize("raw", [*NOT_CANONICAL, "0", "101"])
def test_a_limit_that_is_not_canonical_or_outside_1_to_100_is_a_400(raw):
    with pytest.raises(ApiError) as refused:
        parse_limit({"limit": raw})
    assert refused.value.status == 400 and refused.value.details == {"field": "limit"}


@pytest.mark.parametrize(
    "position",
    [[1 << 63], [-1], [1.5], [True], ["1"], [None], [[1]], [1 << 64], [MAX_ID, -5]],
)
def test_a_cursor_naming_a_position_outside_bigints_is_a_400(position):
    arity = len(position)
    with pytest.raises(ApiError) as refused:
        decode_cursor({"cursor": cursor_of(position)}, arity)
    assert refused.value.status == 400 and refused.value.details == {"field": "cursor"}


@pytest.mark.parametrize(
    "raw",
    [
        encode_cursor([5]) + "\n",
        encode_cursor([5]) + "=",
        "²",
        "%%%",
        cursor_of({"score": 5}),
        "W" * 4000,
    ],
)
def test_cursor_text_not_written_by_this_api_is_a_400(raw):
    with pytest.raises(ApiError) as refused:
        decode_cursor({"cursor": raw}, 1)
    assert refused.value.status == 400


def test_a_cursor_at_the_ends_of_the_range_round_trips():
    assert decode_cursor({"cursor": encode_cursor([0, MAX_ID])}, 2) == [0, MAX_ID]


@pytest.mark.parametrize("text", [*NOT_CANONICAL, "0", str(MAX_ID + 1)])
def test_path_id_answers_a_non_canonical_id_with_a_400_naming_the_parameter(text):
    request = make_mocked_request("GET", "/v1/accounts/x", match_info={"id": text})
    with pytest.raises(ApiError) as refused:
        path_id(request, "id")
    assert refused.value.status == 400 and refused.value.details == {"field": "id"}


@pytest.mark.parametrize("high", [1, 9, 10, 19, 20, 99, 100, 101, 109, 110, 999, 1000, 1090])
def test_decimal_pattern_matches_exactly_the_canonical_decimals_up_to_high(high):
    pattern = re.compile(decimal_pattern(high))
    for value in range(0, 1200):
        assert bool(pattern.fullmatch(str(value))) == (1 <= value <= high), value
        assert not pattern.fullmatch(f"0{value}")


def test_the_openapi_id_pattern_is_what_parse_id_accepts():
    pattern = re.compile(ID_PATTERN["pattern"])
    samples = [*NOT_CANONICAL, "0", "1", str(MAX_ID), str(MAX_ID + 1), "9223372036854775799"]
    samples += [str(MAX_ID - step) for step in (1, 10, 10**9, 10**18)]
    for text in samples:
        # fullmatch: a JSON Schema `$` (ECMA-262) does not match before a trailing newline.
        assert bool(pattern.fullmatch(text)) == (parse_id(text) is not None), text
