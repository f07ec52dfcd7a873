"""Golden tests of the event contracts: a contract that changes by accident fails here.

Fields are add-only. To add one: add it with a default, regenerate the fixture on purpose
(WEITAO_WRITE_GOLDEN=1), and review the diff. Renaming or removing is a new version.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import msgspec
import orjson
import pytest

from shared import events
from shared.events import (
    AccountChanged,
    BadEvent,
    EngagementRecorded,
    Envelope,
    FanoutChunk,
    FeedPageServed,
    FeedRebuildRequested,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
    PostTallied,
)
from shared.kafka import MAX_ERROR_CHARS, DeadLetter
from shared.posts import (
    Discount,
    GroupBuyView,
    PostView,
    Product,
    Video,
    VoteResults,
    decode_post,
    encode_post,
)

GOLDEN = Path(__file__).parent / "golden"
AT = "2026-11-25T04:05:06.789Z"
LATER = "2026-11-28T04:05:06.789Z"

# Every field of a post filled in, every attachment too (no real post has all of them):
# the golden fixture of what feeds show, so a field that changes by accident fails here.
FULL_POST = PostView(
    id="400891230179688450",
    account_id="400891230179688448",
    kind="article",
    title="明前龙井上新",
    body="今年的明前龙井到了，先到先得。",
    category="tea_drinks",
    images=["https://img.example/longjing.jpg"],
    products=[Product(item_id="tea-2026-longjing", title="明前龙井 250g", price_cents=12900)],
    discount=Discount(price_cents=9900, original_price_cents=12900, ends_at=LATER),
    vote=VoteResults(options=["绿茶", "红茶"], closes_at=LATER, counts=[3, 1], total=4),
    video=Video(url="https://video.example/longjing.mp4", duration_s=95),
    created_at=AT,
    group_buy=GroupBuyView(
        item_id="tea-2026-longjing",
        title="龙井团购",
        price_cents=8900,
        original_price_cents=12900,
        min_participants=100,
        max_participants=500,
        ends_at=LATER,
        participants=12,
        state="open",
    ),
)

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
    "post_published_v1": PostPublished.of(FULL_POST, published_ms=1795579506789),
    "post_deleted_v1": PostDeleted(
        post_id="400891230179688450",
        account_id="400891230179688448",
        category="tea_drinks",
        published_ms=1795579506789,
    ),
    "post_tallied_v1": PostTallied(
        post_id="400891230179688450",
        account_id="400891230179688448",
        tally_version=17,
        vote_counts=[3, 1],
        vote_total=4,
        group_buy_participants=12,
        group_buy_state="open",
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
    "feed_page_served_v1": FeedPageServed(
        user_id="400891230179688449",
        at=AT,
        served=[
            ["400891230179688448", "400891230179688450"],
            ["400891230179688451", "400891230179688452"],
        ],
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
        "post.tallied": "weitao.posts.v1",
        "post.interaction": "weitao.interactions.v1",
        "fanout.chunk": "weitao.fanout-work.v1",
        "feed.sweep": "weitao.fanout-work.v1",
        "feed.rebuild_requested": "weitao.feed-requests.v1",
        "engagement.recorded": "weitao.engagement.v1",
        "feed.page_served": "weitao.engagement.v1",
        "group_buy.decided": "weitao.interactions.v1",
    }


def test_a_served_page_is_one_server_impression_per_item_in_page_order():
    page = SAMPLES["feed_page_served_v1"]
    assert page.impressions() == [
        EngagementRecorded(
            action="impression",
            user_id="400891230179688449",
            account_id=account,
            post_id=post,
            at=AT,
            source="server",
        )
        for account, post in page.served
    ]


@pytest.mark.parametrize(
    "served",
    [
        [["1", "2"], ["1"]],
        [["1", "2"], ["1", "2", "3"]],
        [["1", "2"], "12"],
        [["1", "2"], None],
        [["1", "x"]],
        [[1, 2]],
        None,
        "12",
    ],
)
def test_a_served_item_that_is_not_an_account_and_post_id_pair_is_a_bad_event(served):
    page = replace(SAMPLES["feed_page_served_v1"], served=served)
    with pytest.raises(BadEvent, match="served"):
        page.impressions()


def _pretty(raw: bytes) -> bytes:
    return orjson.dumps(orjson.loads(raw), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def test_the_post_feeds_show_encodes_exactly_as_its_golden_fixture():
    path = GOLDEN / "post_view.json"
    if os.environ.get("WEITAO_WRITE_GOLDEN") == "1":
        path.write_bytes(_pretty(encode_post(FULL_POST)) + b"\n")
    assert _pretty(encode_post(FULL_POST)) + b"\n" == path.read_bytes()
    assert decode_post(path.read_bytes()) == FULL_POST


def _empty_fields(value: object, at: str = "$") -> list[str]:
    """Paths of the nulls and empty lists in `value`."""
    if value is None or value == []:
        return [at]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _empty_fields(v, f"{at}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _empty_fields(v, f"{at}[{i}]")]
    return []


def test_the_post_golden_fixture_holds_every_field():
    golden = orjson.loads((GOLDEN / "post_view.json").read_bytes())
    assert set(golden) == set(PostView.__struct_fields__)
    assert _empty_fields(golden) == []


def test_the_published_event_carries_the_post_as_feeds_show_it():
    envelope = Envelope.decode((GOLDEN / "post_published_v1.json").read_bytes())
    event = events.decode(envelope)
    assert isinstance(event, PostPublished)
    assert event.view() == FULL_POST


def test_a_post_added_to_by_a_newer_publisher_still_reads():
    newer = {**msgspec.to_builtins(FULL_POST), "pinned": True}
    assert replace(SAMPLES["post_published_v1"], post=newer).view() == FULL_POST


def test_a_published_post_missing_a_field_is_a_bad_event():
    post = msgspec.to_builtins(FULL_POST)
    del post["body"]
    with pytest.raises(BadEvent, match="body"):
        replace(SAMPLES["post_published_v1"], post=post).view()


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
