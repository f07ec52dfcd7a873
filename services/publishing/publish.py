"""Publishing a post, in the order that keeps refusals cheap: the body, then the author
and the quota, and only then the near-copy fingerprint (tens of ms of CPU on a long text)
and the insert. A request refused for who sent it never pays for the fingerprint."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from services.publishing import domain, similarity
from shared.ids import IdGenerator

Fingerprinter = Callable[[str, str], similarity.Fingerprint | None]


class PostWriter(Protocol):
    """What publishing a post needs of the store (PostStore)."""

    async def check_may_publish(self, account_id: int, now: datetime, daily_limit: int) -> None:
        """Raises the refusal of an author or of the quota."""

    async def publish(
        self,
        post_id: int,
        account_id: int,
        new: domain.NewPost,
        now: datetime,
        daily_limit: int,
        fingerprint: similarity.Fingerprint | None,
    ) -> tuple[Any, int]:
        """Checks again under the author's lock and stores; the post and the quota used."""


class Publisher:
    def __init__(
        self,
        store: PostWriter,
        ids: IdGenerator,
        daily_limit: int,
        fingerprint: Fingerprinter = similarity.fingerprint,
    ) -> None:
        self.store = store
        self.ids = ids
        self.daily_limit = daily_limit
        self.fingerprint = fingerprint
        # One account's requests take turns in this process, so a burst of them checks
        # the quota one after another: only those that will be inserted get fingerprinted.
        self._turns: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def publish(self, account_id: int, new: domain.NewPost, now: datetime) -> tuple[Any, int]:
        """Stores a valid post of an author in good standing within the quota; returns the
        post and the quota used today. Raises the domain error of the first rule broken."""
        domain.check_post(new, now)
        async with self._turn(account_id):
            await self.store.check_may_publish(account_id, now, self.daily_limit)
            # Pure CPU work: off the event loop's own turn.
            fingerprint = await asyncio.to_thread(self.fingerprint, new.title, new.body)
            return await self.store.publish(
                self.ids.next_id(), account_id, new, now, self.daily_limit, fingerprint
            )

    def _turn(self, account_id: int) -> asyncio.Lock:
        turn = self._turns.get(account_id)
        if turn is None:
            turn = self._turns[account_id] = asyncio.Lock()
        return turn
