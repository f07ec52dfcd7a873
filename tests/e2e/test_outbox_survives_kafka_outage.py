"""The transactional outbox: API calls succeed while Kafka is down; their events follow."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.support import consumers, eventually, feed_ids, publish, seller


def kafka(action: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "localstack.py"), action, "kafka"], check=True
    )


async def test_a_publish_and_a_follow_while_kafka_is_down_reach_the_feeds_after_restart(api):
    shop = await seller(api)
    early, late = await consumers(api, 2)
    await api.follow(early["id"], shop["id"])
    warmup = await publish(api, shop, "before the outage")
    await eventually(
        lambda: feed_ids(api, early["id"]), lambda ids: warmup["id"] in ids, what="warm-up post"
    )

    kafka("stop")
    try:
        post = await publish(api, shop, "published while Kafka was down")
        await api.follow(late["id"], shop["id"])
        assert post["quota"]["used"] == 2
    finally:
        kafka("start")

    for fan in (early, late):
        await eventually(
            lambda fan=fan: feed_ids(api, fan["id"]),
            lambda ids: post["id"] in ids,
            timeout_s=90,
            what="post published during the outage",
        )
