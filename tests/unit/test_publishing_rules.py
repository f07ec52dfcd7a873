"""Publishing's pure rules: the Shanghai-day quota and post validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from services.publishing.domain import (
    DailyQuotaExceeded,
    InvalidPost,
    check_quota,
    quota_resets_at,
    shanghai_day,
)
from services.publishing.new_post import NewPost, check_post

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def post(**fields) -> NewPost:
    return msgspec.convert({"kind": "article", "title": "t", "body": "b", **fields}, NewPost)


def test_the_quota_day_turns_at_shanghai_midnight_which_is_16_utc():
    assert shanghai_day(datetime(2026, 11, 25, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 25)
    assert shanghai_day(datetime(2026, 11, 25, 16, 0, 0, tzinfo=UTC)) == date(2026, 11, 26)


def test_a_post_just_before_utc_midnight_belongs_to_the_next_shanghai_day():
    assert shanghai_day(datetime(2026, 11, 25, 23, 59, tzinfo=UTC)) == date(2026, 11, 26)


def test_the_quota_resets_at_the_next_shanghai_midnight_given_in_utc():
    at_2359 = datetime(2026, 11, 25, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    assert quota_resets_at(at_2359).astimezone(UTC) == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert quota_resets_at(at_2359 + timedelta(seconds=1)).astimezone(UTC) == datetime(
        2026, 11, 26, 16, tzinfo=UTC
    )


def test_fourth_post_of_the_shanghai_day_is_refused_with_limit_and_reset_time():
    check_quota(2, 3, NOW)  # the third is fine
    with pytest.raises(DailyQuotaExceeded) as refused:
        check_quota(3, 3, NOW)
    assert refused.value.details == {"limit": 3, "resets_at": "2026-11-25T16:00:00.000Z"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "product"}, "$.products"),
        ({"kind": "discount"}, "$.discount"),
        ({"kind": "vote"}, "$.vote"),
        ({"kind": "video"}, "$.video"),
        (
            {
                "kind": "discount",
                "discount": {
                    "price_cents": 900,
                    "original_price_cents": 900,
                    "ends_at": "2027-01-01T00:00:00Z",
                },
            },
            "$.discount.price_cents",
        ),
        (
            {
                "kind": "discount",
                "discount": {
                    "price_cents": 800,
                    "original_price_cents": 900,
                    "ends_at": "2026-01-01T00:00:00Z",
                },
            },
            "$.discount.ends_at",
        ),
        ({"kind": "vote", "vote": {"options": ["a", "a"]}}, "$.vote.options"),
        ({"vote": {"options": ["a", "b"]}}, "$.vote"),
    ],
)
def test_a_post_breaking_a_cross_field_rule_is_refused_naming_the_field(fields, field):
    with pytest.raises(InvalidPost) as refused:
        check_post(post(**fields), NOW)
    assert refused.value.details["field"] == field


def test_each_kind_with_its_attachment_is_accepted():
    for fields in (
        {},
        {"kind": "product", "products": [{"item_id": "i1", "title": "茶", "price_cents": 100}]},
        {
            "kind": "discount",
            "discount": {
                "price_cents": 800,
                "original_price_cents": 900,
                "ends_at": "2027-01-01T00:00:00Z",
            },
        },
        {"kind": "vote", "vote": {"options": ["红茶", "绿茶"]}},
        {"kind": "video", "video": {"url": "https://v.example/1.mp4", "duration_s": 30}},
    ):
        check_post(post(**fields), NOW)


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"title": "x" * 61},
        {"body": "x" * 5001},
        {"images": ["https://i.example/x.jpg"] * 10},
        {"kind": "vote", "vote": {"options": ["only one"]}},
        {"kind": "vote", "vote": {"options": list("abcdefg")}},
        {"kind": "video", "video": {"url": "ftp://x", "duration_s": 3}},
    ],
)
def test_field_limits_are_enforced_by_the_schema(fields):
    with pytest.raises(msgspec.ValidationError):
        post(**fields)


def test_title_length_counts_characters_not_bytes():
    post(title="龙" * 60)
