"""Golden tests of the event contracts: a contract that changes by accident fails here.

Fields are add-only. To add one: add it with a default, regenerate the fixture on purpose
(WEITAO_WRITE_GOLDEN=1), and review the diff. Renaming or removing is a new version.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from shared import events
from shared.events import (
    AccountChanged,
    BadEvent,
    EngagementRecorded,
    Envelope,
    FanoutChunk,
    FeedRebuildRequested,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
)
from shared.kafka import MAX_ERROR_CHARS, DeadLetter

GOLDEN = Path(__file__).parent / "golden"
AT = "2026-11-25T04:05:06.789Z"

SAMPLES: dict[str, events.Contract] = {
    "account_changed_v1": AccountChanged(
        account_id="400891230179688448",
        handle="tea_shop",
        kind="seller",
        display_name="西湖茶庄",
        category="tea_drinks",
        status="active",
        created_at=AT,
        change="created",
        version=1,
        changed_at=AT,
    ),
    "follow_changed_v1": FollowChanged(
        user_id="400891230179688449",
        account_id="400891230179688448",
        following=True,
        source="qr",
        version=3,
        at=AT,
    ),
    "post_published_v1": PostPublished(
        post_id="400891230179688450",
        account_id="400891230179688448",
        category="tea_drinks",
        published_ms=1795579506789,
        post={"id": "400891230179688450", "title": "明前龙井上新", "kind": "article"},
    ),
    "post_deleted_v1": PostDeleted(
        post_id="400891230179688450",
        account_id="400891230179688448",
        category="tea_drinks",
        published_ms=1795579506789,
    ),
    "post_interaction_v1": PostInteraction(
        post_id="400891230179688450",
        account_id="400891230179688448",
        user_id="400891230179688449",
        action="vote",
        at=AT,
        option=1,
    ),
    "fanout_chunk_v1": FanoutChunk(
        post_id="400891230179688450",
        account_id="400891230179688448",
        category="beauty",
        published_ms=1795579506789,
        chunk=3,
        after_user=400891230179688000,
        through_user=None,
    ),
    "feed_sweep_v1": FeedSweep(
        account_id="400891230179688448",
        version=4,
        suspended=True,
        chunk=2,
        after_user=400891230179688000,
        through_user=400891230179689000,
    ),
    "feed_rebuild_requested_v1": FeedRebuildRequested(user_id="400891230179688449", at=AT),
    "engagement_recorded_v1": EngagementRecorded(
        action="purchase",
        user_id="400891230179688449",
        account_id="400891230179688448",
        post_id="400891230179688450",
        at=AT,
        order_id="o-1",
        amount_cents=12900,
        source="server",
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_contract_encodes_exactly_as_its_golden_fixture(name):
    envelope = SAMPLES[name].envelope(event_id="e" * 32, occurred_at=AT)
    encoded = orjson.dumps(
        orjson.loads(envelope.encode()), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    )
    path = GOLDEN / f"{name}.json"
    if os.environ.get("WEITAO_WRITE_GOLDEN") == "1":
        path.write_bytes(encoded + b"\n")
    assert encoded + b"\n" == path.read_bytes()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_golden_fixture_decodes_to_its_contract(name):
    envelope = Envelope.decode((GOLDEN / f"{name}.json").read_bytes())
    assert events.decode(envelope) == SAMPLES[name]
    assert envelope.key == SAMPLES[name].key()


def test_a_field_added_by_a_newer_producer_is_ignored_by_this_consumer():
    envelope = SAMPLES["post_deleted_v1"].envelope()
    newer = Envelope(**{**envelope.__dict__, "payload": {**envelope.payload, "reason": "spam"}})
    assert events.decode(Envelope.decode(newer.encode())) == SAMPLES["post_deleted_v1"]


def test_an_account_change_written_before_changed_at_existed_still_decodes():
    payload = orjson.loads((GOLDEN / "account_changed_v1.json").read_bytes())["payload"]
    del payload["changed_at"]
    assert AccountChanged.from_payload(payload).changed_at is None


def test_an_unknown_version_is_not_decoded_as_the_known_one():
    envelope = SAMPLES["post_deleted_v1"].envelope()
    future = Envelope(**{**envelope.__dict__, "version": 2})
    assert events.decode(future) is None


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"type": "x"}'])
def test_garbage_is_a_bad_event_not_a_crash(raw):
    with pytest.raises(BadEvent):
        Envelope.decode(raw)


def test_a_payload_missing_a_field_is_a_bad_event():
    envelope = SAMPLES["post_deleted_v1"].envelope()
    broken = Envelope(**{**envelope.__dict__, "payload": {"post_id": "1"}})
    with pytest.raises(BadEvent):
        events.decode(broken)


def test_each_contract_stays_on_its_topic():
    assert {c.TYPE: c.TOPIC.name for c in events.CONTRACTS.values()} == {
        "account.changed": "weitao.accounts.v1",
        "follow.changed": "weitao.follows.v1",
        "post.published": "weitao.posts.v1",
        "post.deleted": "weitao.posts.v1",
        "post.interaction": "weitao.interactions.v1",
        "fanout.chunk": "weitao.fanout-work.v1",
        "feed.sweep": "weitao.fanout-work.v1",
        "feed.rebuild_requested": "weitao.feed-requests.v1",
        "engagement.recorded": "weitao.engagement.v1",
    }


LETTER = DeadLetter(
    group="fanout",
    topic="weitao.posts.v1",
    partition=7,
    offset=4123,
    key=b"400891230179688448",
    value=b'{"event_id": "..."}',
    error="ValueError('a bug')",
)


def test_a_dead_letter_carries_its_source_in_these_headers():
    assert LETTER.headers() == [
        ("group", b"fanout"),
        ("topic", b"weitao.posts.v1"),
        ("partition", b"7"),
        ("offset", b"4123"),
        ("error", b"ValueError('a bug')"),
        ("key", b"400891230179688448"),
    ]


@pytest.mark.parametrize("key", [b"400891230179688448", b"", None])
def test_a_dead_letter_reads_back_as_it_was_written_keyless_or_not(key):
    letter = replace(LETTER, key=key)
    record = SimpleNamespace(headers=tuple(letter.headers()), value=letter.value)
    assert DeadLetter.from_record(record) == letter


def test_a_dead_letter_error_is_cut_to_a_bounded_size():
    record = SimpleNamespace(topic="t", partition=0, offset=1, key=None, value=b"v")
    assert len(DeadLetter.of("g", record, "x" * 10_000).error) == MAX_ERROR_CHARS
