"""Group buys (团购, API.md "publishing"): joining and leaving an open buy, and settling
each buy once, when it ends or fills, as `succeeded` (enough joined) or `failed`.

Every change takes the post's row lock first, so concurrent joins are counted one after
another (exact, never past max_participants), and a join never races the outcome. The
settler picks due buys `FOR UPDATE SKIP LOCKED`: with several publishing processes each
due buy is decided by exactly one of them, its state and event in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from services.publishing import domain, votes_and_buys
from services.publishing.ports import GroupBuyRepository, GroupBuyTransaction

log = logging.getLogger(__name__)

SETTLE_EVERY_S = 1.0  # a buy is decided within about a second of its end
SETTLE_BATCH = 100  # due buys decided per transaction


async def locked_buy(tx: GroupBuyTransaction, post_id: int) -> votes_and_buys.OpenBuy:
    """The live post, locked; PostNotFound otherwise."""
    buy = await tx.locked_buy(post_id)
    if buy is None:
        raise domain.PostNotFound("post not found", post_id=str(post_id))
    return buy


class GroupBuyService:
    """Join, leave, and settle group buys."""

    def __init__(self, buys: GroupBuyRepository, clock: Callable[[], datetime]) -> None:
        self.buys = buys
        self.clock = clock

    async def join(self, post_id: int, user_id: int) -> None:
        """Joins an open buy (again: no-op); a join that fills it decides it at once."""
        now = self.clock()
        async with self.buys.writing() as tx:
            buy = await locked_buy(tx, post_id)
            terms = votes_and_buys.joinable(buy, now)
            if await tx.has_joined(buy.post_id, user_id):
                return
            if votes_and_buys.is_full(terms, buy.participants):
                raise domain.GroupBuyClosed("this group buy is full", state=buy.state)
            participants = await tx.add_participant(buy, user_id, now)
            if votes_and_buys.is_full(terms, participants):
                await tx.decide(buy, votes_and_buys.outcome(terms, participants), participants, now)

    async def leave(self, post_id: int, user_id: int) -> None:
        """Leaves a buy while it is open (not a participant: no-op)."""
        now = self.clock()
        async with self.buys.writing() as tx:
            buy = await locked_buy(tx, post_id)
            votes_and_buys.joinable(buy, now)
            await tx.remove_participant(buy, user_id, now)

    async def settle_due(self) -> int:
        """Decides up to SETTLE_BATCH buys that have ended; how many it decided."""
        now = self.clock()
        async with self.buys.writing() as tx:
            due = await tx.due_buys(now, SETTLE_BATCH)
            for buy in due:
                assert buy.terms is not None  # due_buys returns group buys only
                state = votes_and_buys.outcome(buy.terms, buy.participants)
                await tx.decide(buy, state, buy.participants, now)
        return len(due)

    async def run_settler(self) -> None:
        """Settles due buys for as long as the process runs."""
        while True:
            while await self.settle_due() == SETTLE_BATCH:
                pass  # a backlog: the next batch at once
            await asyncio.sleep(SETTLE_EVERY_S)
