"""The one retry policy: delays doubling up to a cap, and calling until a call succeeds.

Every wait for Kafka, Postgres or a worker number uses it, so outages end the same way
everywhere: retried at least every `cap` seconds, never in a tight loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Backoff:
    """Delays doubling from `first` up to `cap` seconds; `reset()` starts over."""

    first: float = 0.1
    cap: float = 5.0
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.first

    async def sleep(self) -> None:
        """Sleeps the current delay, then doubles it (up to `cap`)."""
        await asyncio.sleep(self._next)
        self._next = min(self._next * 2, self.cap)

    def reset(self) -> None:
        """The next sleep is `first` again (after a success)."""
        self._next = self.first


async def retry_forever(
    call: Callable[[], Awaitable[T]],
    retry_on: type[Exception] | tuple[type[Exception], ...],
    backoff: Backoff,
    on_retry: Callable[[Exception], None],
) -> T:
    """Awaits `call()` until it returns; after a `retry_on` failure calls `on_retry(exc)`
    (to log it) and sleeps `backoff`. Any other exception propagates."""
    while True:
        try:
            return await call()
        except retry_on as exc:
            on_retry(exc)
            await backoff.sleep()
