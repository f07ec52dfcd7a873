"""The id generator mints with the worker number it is given, and only while that
number is held: two containers whose processes are both pid 1 never share one."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import ApiError
from shared.ids import WORKER_BITS, FixedWorker, IdGenerator, WorkerLease, WorkerLost


def worker_of(snowflake: int) -> int:
    return (snowflake >> 12) & ((1 << WORKER_BITS) - 1)


def test_a_generator_needs_its_worker_number_given():
    with pytest.raises(TypeError):
        IdGenerator()  # type: ignore[call-arg]  # the process id is 1 in every container


def test_ids_carry_the_given_worker_number():
    assert {worker_of(IdGenerator(1023).next_id()) for _ in range(10)} == {1023}
    assert worker_of(IdGenerator(FixedWorker(5)).next_id()) == 5


@pytest.mark.parametrize("number", [-1, 1 << WORKER_BITS])
def test_a_worker_number_outside_ten_bits_is_refused(number):
    with pytest.raises(ValueError):
        FixedWorker(number)


class Revoked:
    def number(self) -> int:
        raise WorkerLost()


def test_no_id_is_minted_while_the_worker_number_is_not_held():
    with pytest.raises(WorkerLost) as lost:
        IdGenerator(Revoked()).next_id()
    assert isinstance(lost.value, ApiError) and lost.value.status == 503


class SilentConnection:
    """A connection that stays open but never answers (a network partition)."""

    def is_closed(self) -> bool:
        return False

    async def fetchval(self, query: str) -> int:
        await asyncio.Event().wait()
        return 1

    def terminate(self) -> None:
        pass


async def test_a_lease_whose_heartbeat_goes_unanswered_stops_minting():
    closed_port = "postgresql://weitao@127.0.0.1:1/weitao"  # claiming again keeps failing
    lease = WorkerLease(closed_port, range(4), SilentConnection(), 3, heartbeat_s=0.02)
    try:
        assert lease.number() == 3
        await asyncio.sleep(0.2)  # well past 4 unanswered heartbeats
        with pytest.raises(WorkerLost):
            lease.number()
    finally:
        await lease.release()
