"""A group buy is decided exactly once, even with several publishing processes: here two
settlers on their own pools race the running service's own settler for the same due
buys, and each buy's outcome is stored once and published once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.publishing.group_buy_store import GroupBuyStore
from services.publishing.group_buys import GroupBuyService
from shared import db
from shared.events import GroupBuyDecided
from shared.timeutil import utcnow
from tests.e2e.test_group_buys import InteractionsTail, participant, served, terms
from tests.support import bulk_consumers, eventually, publish, seller

SHOPS = 4  # three posts a day each: twelve buys


@pytest.fixture
async def settlers(stack) -> AsyncIterator[list[GroupBuyService]]:
    pools = [await db.create_pool(stack.str("WEITAO_POSTGRES_DSN"), "publishing") for _ in range(2)]
    try:
        yield [GroupBuyService(GroupBuyStore(pool), utcnow) for pool in pools]
    finally:
        for pool in pools:
            await pool.close()


async def test_racing_settlers_decide_each_due_buy_exactly_once(api, stack, settlers):
    async with InteractionsTail(stack.str("WEITAO_KAFKA_BOOTSTRAP")) as tail:
        shops = [await seller(api, "tea_drinks") for _ in range(SHOPS)]
        ends = datetime.now(UTC) + timedelta(seconds=3)
        buys = [
            await publish(api, shop, f"团 {n}", kind="group_buy", group_buy=terms(3))
            for shop in shops
            for n in range(3)
        ]
        users = await bulk_consumers(api, 2)
        # Every other buy reaches its minimum of two.
        for buy in buys[::2]:
            for user in users:
                (await participant(api, buy["id"], user)).expect(204)

        async def race(service: GroupBuyService) -> int:
            decided = 0
            while datetime.now(UTC) < ends + timedelta(seconds=2):
                decided += await service.settle_due()
                await asyncio.sleep(0.01)
            return decided

        await asyncio.gather(*(race(s) for s in settlers))

        for index, buy in enumerate(buys):
            expected = "succeeded" if index % 2 == 0 else "failed"
            assert (await served(api, buy["id"]))["state"] == expected
            seen = await eventually(
                lambda buy=buy: tail.events(buy["id"]),
                lambda found: any(isinstance(e, GroupBuyDecided) for e in found),
                what="group_buy.decided",
            )
            decided = [e for e in seen if isinstance(e, GroupBuyDecided)]
            assert [(e.state, e.participants) for e in decided] == [
                (expected, 2 if expected == "succeeded" else 0)
            ]
