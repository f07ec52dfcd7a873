"""Insights' pure rules: Shanghai days, the stats row of a quiet day, rates without a
denominator, and when an unknown id may still be on its way."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.insights.domain import (
    IN_FLIGHT_MS,
    day_row,
    increment_of,
    maybe_in_flight,
    shanghai_day,
    window,
)
from shared.ids import WEITAO_EPOCH_MS, IdGenerator


def test_a_utc_evening_is_the_next_shanghai_day():
    assert shanghai_day(datetime(2026, 11, 25, 15, 59, tzinfo=UTC)) == date(2026, 11, 25)
    assert shanghai_day(datetime(2026, 11, 25, 16, 0, tzinfo=UTC)) == date(2026, 11, 26)


def test_a_window_is_oldest_first_and_ends_today():
    assert window(date(2026, 3, 1), 3) == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]


def test_a_quiet_day_is_all_zeros_with_every_field():
    row = day_row(date(2026, 1, 2), 5, None, 0, None, 0, 0)
    assert row["date"] == "2026-01-02" and row["followers_total"] == 5
    assert row["followers_gained_by_source"] == {"api": 0, "qr": 0, "recommendation": 0}
    assert row["revisit_rate"] == 0.0 and row["conversion_rate"] == 0.0
    assert row["avg_dwell_ms"] == 0
    assert len(row) == 18


def test_rates_of_a_day_with_visitors():
    engagement = {"unique_visitors": 3, "buyers": 2, "dwell_ms": 6000, "dwell_reports": 3}
    row = day_row(date(2026, 1, 2), 0, {}, 0, engagement, 1, 0)
    assert row["conversion_rate"] == 0.666667
    assert row["revisit_rate"] == 0.333333
    assert row["avg_dwell_ms"] == 2000


def test_only_a_purchase_adds_gmv_and_a_dwell_event_adds_no_count():
    assert increment_of("purchase", None, 500).gmv_cents == 500
    assert increment_of("view", 1200, 500).gmv_cents == 0
    assert increment_of("dwell", 900, None).counter is None


def test_impressions_count_what_the_server_served_not_what_a_client_reports():
    assert increment_of("impression", None, None, "server").counter == "impressions"
    assert increment_of("impression", None, None).counter is None


def test_an_id_minted_a_moment_ago_may_be_in_flight_an_old_one_not():
    fresh = IdGenerator(worker=1003).next_id()
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    assert maybe_in_flight(fresh, now_ms)
    assert not maybe_in_flight(fresh, now_ms + IN_FLIGHT_MS + 1000)
    assert not maybe_in_flight(1, WEITAO_EPOCH_MS + 10 * IN_FLIGHT_MS)
