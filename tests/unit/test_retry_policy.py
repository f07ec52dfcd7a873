"""shared.retry: the one backoff every wait for a dependency uses."""

from __future__ import annotations

import pytest

from shared import retry
from shared.retry import Backoff, retry_forever


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(retry.asyncio, "sleep", record)
    return delays


async def test_delays_double_up_to_the_cap_and_start_over_after_a_reset(slept: list[float]):
    backoff = Backoff(first=0.2, cap=1.0)
    for _ in range(5):
        await backoff.sleep()
    backoff.reset()
    await backoff.sleep()
    assert slept == [0.2, 0.4, 0.8, 1.0, 1.0, 0.2]


async def test_a_call_is_retried_on_the_named_failures_until_it_returns(slept: list[float]):
    outcomes: list[Exception | str] = [ConnectionError("down"), ConnectionError("down"), "up"]
    seen: list[Exception] = []

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert await retry_forever(call, ConnectionError, Backoff(first=0.5), seen.append) == "up"
    assert [str(e) for e in seen] == ["down", "down"]
    assert slept == [0.5, 1.0]


async def test_any_other_failure_is_not_retried(slept: list[float]):
    async def call() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await retry_forever(call, ConnectionError, Backoff(), lambda _: None)
    assert slept == []
