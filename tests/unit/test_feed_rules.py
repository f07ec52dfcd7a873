"""Feed-read and fan-out pure rules: cursor order, visibility, chunks, rebuild merges."""

from __future__ import annotations

import pytest

from services.fanout.domain import merge_newest, mode_change
from services.feedread.domain import Position, comes_after, visible
from shared.errors import ApiError
from shared.pagination import decode_cursor, encode_cursor, parse_limit


def test_a_cursor_excludes_its_own_item_and_everything_newer():
    cursor = Position(1000, 500)
    assert not comes_after(b"500", 1000, cursor)  # the item itself
    assert not comes_after(b"600", 1000, cursor)  # same millisecond, later in reverse order
    assert not comes_after(b"1", 1001, cursor)  # newer
    assert comes_after(b"499", 1000, cursor)  # same millisecond, after it
    assert comes_after(b"999", 999, cursor)  # older
    assert comes_after(b"1", 5, None)  # first page: everything


def test_comes_after_follows_redis_member_order_within_a_score():
    # Redis orders equal scores by member bytes; so must the cursor.
    members = sorted(
        [b"400891230179688448", b"400891230179688449", b"400891230179688447"], reverse=True
    )
    cursor = Position(7, int(members[0]))
    assert [m for m in members if comes_after(m, 7, cursor)] == members[1:]


POST = {"id": "1", "account_id": "9", "category": "beauty"}
ACCOUNT = {"id": "9", "status": "active"}


@pytest.mark.parametrize(
    ("post", "account", "version", "category", "shown"),
    [
        (POST, ACCOUNT, 3, None, True),
        (POST, ACCOUNT, 3, "beauty", True),
        (POST, ACCOUNT, 3, "food", False),
        (None, ACCOUNT, 3, None, False),  # deleted or unknown post
        (POST, None, 3, None, False),  # author unknown to feedread
        (POST, ACCOUNT, -4, None, False),  # unfollowed
        (POST, ACCOUNT, 0, None, False),  # never followed
        (POST, {"id": "9", "status": "suspended"}, 3, None, False),
    ],
)
def test_a_feed_entry_is_shown_only_when_post_author_follow_and_category_allow(
    post, account, version, category, shown
):
    assert visible(post, account, version, category) is shown


@pytest.mark.parametrize(
    ("followers", "pull", "becomes"),
    [
        (49_999, False, None),
        (50_000, False, True),  # reaching the threshold: pulled at read time
        (50_000, True, None),
        (45_001, True, None),  # a little below: stays pull (no flapping)
        (44_999, True, False),  # below 90%: pushed again
        (10, False, None),
    ],
)
def test_accounts_switch_to_pull_at_the_threshold_and_back_below_ninety_percent(
    followers, pull, becomes
):
    change = mode_change(followers, pull, 50_000)
    assert (change.to_pull if change else None) == becomes


def test_a_rebuilt_feed_keeps_the_newest_distinct_posts_up_to_the_cap():
    entries = [(b"1", 10.0), (b"2", 30.0), (b"3", 20.0), (b"2", 30.0), (b"4", 5.0)]
    assert merge_newest(entries, 3) == [(b"2", 30.0), (b"3", 20.0), (b"1", 10.0)]


def test_cursors_round_trip_and_foreign_ones_are_a_400():
    assert decode_cursor({"cursor": encode_cursor([12, 34])}, 2) == [12, 34]
    assert decode_cursor({}, 2) is None
    for bad in ("%%%", encode_cursor([1]), encode_cursor(["a", "b"]), "bm90IGpzb24"):
        with pytest.raises(ApiError) as refused:
            decode_cursor({"cursor": bad}, 2)
        assert refused.value.status == 400 and refused.value.details == {"field": "cursor"}


@pytest.mark.parametrize(("raw", "limit"), [(None, 20), ("1", 1), ("100", 100)])
def test_limit_defaults_to_20_and_allows_1_to_100(raw, limit):
    assert parse_limit({} if raw is None else {"limit": raw}) == limit


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", ""])
def test_a_limit_outside_1_to_100_is_a_400(raw):
    with pytest.raises(ApiError):
        parse_limit({"limit": raw})
