"""feedread's BriefCache: concurrent reads of the same missing ids share one fetch (when a
second's cache expires, every page in flight would otherwise fetch the same posts), a
failed fetch fails each of them and is tried afresh, unknown ids are not kept."""

from __future__ import annotations

import asyncio

import pytest

from services.feedread.brief_cache import BriefCache


class Fetches:
    """A fetch that records its calls and answers when released."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self, ids: list[str]) -> list[str | None]:
        self.calls.append(ids)
        await self.release.wait()
        if self.fail:
            raise ConnectionError("redis away")
        return [None if i == "unknown" else f"v{i}" for i in ids]


async def test_concurrent_reads_of_missing_ids_share_one_fetch():
    cache: BriefCache[str] = BriefCache(100)
    fetch = Fetches()
    first = asyncio.create_task(cache.get_many(["1", "2"], fetch))
    second = asyncio.create_task(cache.get_many(["2", "1", "3"], fetch))
    await asyncio.sleep(0)
    fetch.release.set()
    assert await first == {"1": "v1", "2": "v2"}
    assert await second == {"2": "v2", "1": "v1", "3": "v3"}
    assert fetch.calls == [["1", "2"], ["3"]]
    assert await cache.get_many(["1", "3"], fetch) == {"1": "v1", "3": "v3"}
    assert len(fetch.calls) == 2


async def test_a_failed_fetch_fails_every_reader_waiting_on_it_and_is_tried_again():
    cache: BriefCache[str] = BriefCache(100)
    fetch = Fetches()
    fetch.fail = True
    readers = [asyncio.create_task(cache.get_many(["1"], fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    fetch.release.set()
    for reader in readers:
        with pytest.raises(ConnectionError):
            await reader
    assert len(fetch.calls) == 1
    fetch.fail = False
    assert await cache.get_many(["1"], fetch) == {"1": "v1"}


async def test_a_cancelled_reader_does_not_cancel_the_fetch_others_wait_on():
    cache: BriefCache[str] = BriefCache(100)
    fetch = Fetches()
    leaving = asyncio.create_task(cache.get_many(["1"], fetch))
    staying = asyncio.create_task(cache.get_many(["1"], fetch))
    await asyncio.sleep(0)
    leaving.cancel()
    fetch.release.set()
    assert await staying == {"1": "v1"}


async def test_unknown_ids_are_fetched_each_time():
    cache: BriefCache[str] = BriefCache(100)
    fetch = Fetches()
    fetch.release.set()
    assert await cache.get_many(["unknown"], fetch) == {"unknown": None}
    assert await cache.get_many(["unknown"], fetch) == {"unknown": None}
    assert len(fetch.calls) == 2


async def test_a_value_is_fetched_again_once_its_own_ttl_has_passed(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("services.feedread.brief_cache.time.monotonic", lambda: clock[0])
    cache: BriefCache[str] = BriefCache(100, ttl_s=0.25)
    fetch = Fetches()
    fetch.release.set()
    for moment in (1000.0, 1000.2, 1000.3, 1000.5):
        clock[0] = moment
        assert await cache.get_many(["1"], fetch) == {"1": "v1"}
    # Kept at 1000.0 and still at 1000.2; stale at 1000.3 (fetched, kept then); at 1000.5
    # still fresh from 1000.3.
    assert fetch.calls == [["1"], ["1"]]
