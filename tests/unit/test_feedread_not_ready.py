"""API.md "Projections" in feedread's use case, on fakes: a reader whose account is not
known yet is waited for, then refused as not ready; an id minted long ago is not waited for."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from services.feedread import domain, service
from services.feedread.service import Feedread
from shared.ids import IdGenerator
from tests.fakes.feedread import FakeEngagementLedger, FakeEventSender, FakeFeedSource

fresh_ids = IdGenerator(worker=1017)


@dataclass
class KnownAccounts(FakeFeedSource):
    """The fake feed source, answering `knows` from its accounts (and counting asks)."""

    lookups: int = 0

    async def knows(self, account_id: int) -> bool:
        self.lookups += 1
        return str(account_id) in self.accounts


def reads(feeds: FakeFeedSource) -> Feedread:
    return Feedread(feeds, FakeEngagementLedger(), FakeEventSender())


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(autouse=True)
def short_wait(monkeypatch):
    monkeypatch.setattr(service, "PROJECTION_WAIT_S", 0.2)
    monkeypatch.setattr(service, "PROJECTION_POLL_S", 0.01)


async def test_a_fresh_reader_that_never_arrives_is_not_ready():
    with pytest.raises(domain.ReaderNotReady):
        await reads(KnownAccounts()).wait_for_reader(fresh_ids.next_id(), now_ms())


async def test_a_fresh_reader_arriving_during_the_wait_is_served():
    feeds, reader = KnownAccounts(), fresh_ids.next_id()

    async def arrive() -> None:
        await asyncio.sleep(0.05)
        feeds.author(str(reader))

    await asyncio.gather(reads(feeds).wait_for_reader(reader, now_ms()), arrive())


async def test_an_id_unknown_long_after_it_was_minted_is_not_waited_for():
    feeds = KnownAccounts()
    await reads(feeds).wait_for_reader(5, now_ms())
    assert feeds.lookups == 1  # looked up once, no polling
