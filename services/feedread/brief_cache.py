"""Values kept in process for a second (services.feedread.store): feedread's posts,
accounts, the pull set and pulled timelines' heads, fetched once however many pages in
flight want them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

# Accounts, posts (immutable but for tallies and deletes) and the pull set are cached in
# process: a second of staleness keeps suspensions, deletes and mode switches well inside
# the 2 s callers rely on, and saves round trips and decoding per page.
CACHE_TTL_S = 1.0

V = TypeVar("V")


class BriefCache(Generic[V]):
    """Values by id kept `ttl_s` (CACHE_TTL_S) after they were read, fetched in one call when absent
    or stale; a None (unknown) is not kept. Past `bound` entries the stale ones go.
    Reads of ids being fetched wait for that fetch: when a value goes stale, every page in
    flight wants it at once, and one fetch serves them all."""

    def __init__(self, bound: int, ttl_s: float = CACHE_TTL_S) -> None:
        self.bound = bound
        self.ttl_s = ttl_s
        self._kept: dict[str, tuple[float, V]] = {}
        self._fetching: dict[str, asyncio.Future[dict[str, V | None]]] = {}

    async def get_many(
        self, ids: Iterable[str], fetch: Callable[[list[str]], Awaitable[Sequence[V | None]]]
    ) -> dict[str, V | None]:
        """Each id's value, fetching (in one call) those not kept, kept too long, or not
        being fetched already."""
        now = time.monotonic()
        found: dict[str, V | None] = {}
        waiting: list[str] = []
        missing: list[str] = []
        for key in dict.fromkeys(ids):
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] <= self.ttl_s:
                found[key] = kept[1]
            else:
                waiting.append(key)
                if key not in self._fetching:
                    missing.append(key)
        if missing:
            task = asyncio.ensure_future(self._fetch(missing, fetch, now))
            task.add_done_callback(_retrieve_exception)
            for key in missing:
                self._fetching[key] = task
        if waiting:
            fetches = {id(f): f for f in (self._fetching[key] for key in waiting)}
            # Shielded: a reader that goes away does not cancel what others wait for.
            fetched: dict[str, V | None] = {}
            for values in await asyncio.gather(*map(asyncio.shield, fetches.values())):
                fetched.update(values)
            for key in waiting:
                found[key] = fetched[key]
        return found

    async def _fetch(
        self,
        keys: list[str],
        fetch: Callable[[list[str]], Awaitable[Sequence[V | None]]],
        now: float,
    ) -> dict[str, V | None]:
        try:
            fetched = dict(zip(keys, await fetch(keys), strict=True))
        finally:
            for key in keys:
                del self._fetching[key]
        for key, value in fetched.items():
            if value is not None:
                self._kept[key] = (now, value)
        if len(self._kept) > self.bound:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] <= self.ttl_s}
        return fetched


def _retrieve_exception(task: asyncio.Future) -> None:
    """Marks a failed fetch's exception seen when no reader is left to receive it."""
    if not task.cancelled():
        task.exception()
