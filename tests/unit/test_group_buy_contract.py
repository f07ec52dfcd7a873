"""Golden test of the group_buy.decided contract (as tests/unit/test_event_contracts.py
does for the others): a change by accident fails here. WEITAO_WRITE_GOLDEN=1 rewrites it."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from shared import events
from shared.events import Envelope, GroupBuyDecided

GOLDEN = Path(__file__).parent / "golden" / "group_buy_decided_v1.json"
AT = "2026-11-25T04:05:06.789Z"
SAMPLE = GroupBuyDecided(
    post_id="400891230179688450",
    account_id="400891230179688448",
    item_id="tea-2026-longjing",
    state="succeeded",
    participants=128,
    min_participants=100,
    price_cents=9900,
    decided_at=AT,
)


def test_group_buy_decided_encodes_exactly_as_its_golden_fixture():
    envelope = SAMPLE.envelope(event_id="e" * 32, occurred_at=AT)
    encoded = orjson.dumps(
        orjson.loads(envelope.encode()), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    )
    if os.environ.get("WEITAO_WRITE_GOLDEN") == "1":
        GOLDEN.write_bytes(encoded + b"\n")
    assert encoded + b"\n" == GOLDEN.read_bytes()


def test_the_golden_fixture_decodes_to_group_buy_decided_keyed_by_its_post():
    envelope = Envelope.decode(GOLDEN.read_bytes())
    assert events.decode(envelope) == SAMPLE
    assert envelope.key == SAMPLE.post_id
    assert GroupBuyDecided.TOPIC.name == "weitao.interactions.v1"
