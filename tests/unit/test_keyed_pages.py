"""shared.pagination's keyed pages: the cursor tail every list endpoint shares."""

from __future__ import annotations

import pytest

from shared.errors import ApiError
from shared.pagination import decode_cursor, keyed_page, keyed_page_query


def test_a_full_page_names_its_last_key_and_a_short_page_is_the_last():
    rows = [{"seq": 7, "h": "a"}, {"seq": 5, "h": "b"}]
    full = keyed_page(rows, 2, "seq", lambda r: r["h"])
    assert full["items"] == ["a", "b"]
    assert decode_cursor({"cursor": full["next_cursor"]}, 1) == [5]
    assert keyed_page(rows, 3, "seq", lambda r: r["h"])["next_cursor"] is None
    assert keyed_page([], 3, "seq", lambda r: r) == {"items": [], "next_cursor": None}


def test_a_page_query_reads_the_limit_and_the_key_to_start_after():
    cursor = keyed_page([{"id": 42}], 1, "id", dict)["next_cursor"]
    assert keyed_page_query({}) == (20, None)
    assert keyed_page_query({"limit": "5", "cursor": cursor}) == (5, 42)


def test_a_bad_limit_is_named_before_a_bad_cursor():
    with pytest.raises(ApiError) as refused:
        keyed_page_query({"limit": "0", "cursor": "!"})
    assert refused.value.details == {"field": "limit"}
