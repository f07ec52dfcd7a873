"""Worker numbers claimed from the real Postgres: two live claims never share a number,
a released number is free again, and a lease whose session ends mints nothing until
it has claimed a number again."""

from __future__ import annotations

import asyncpg
import pytest

from shared.ids import (
    WORKER_BITS,
    WORKER_LOCK_NAMESPACE,
    IdGenerator,
    WorkerLost,
    WorkerNumbersExhausted,
    claim_worker,
)
from tests.support import eventually

WORKER_MASK = (1 << WORKER_BITS) - 1


@pytest.fixture(scope="module")
def dsn(stack) -> str:
    return stack.str("WEITAO_POSTGRES_DSN")


async def holder_pid(dsn: str, number: int) -> int | None:
    """The backend holding worker `number`'s lock, if any."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = $1 AND objid = $2 AND objsubid = 2",
            WORKER_LOCK_NAMESPACE,
            number,
        )
    finally:
        await conn.close()


def worker_of(snowflake: int) -> int:
    return (snowflake >> 12) & WORKER_MASK


async def test_two_live_claims_get_different_numbers_and_mint_disjoint_ids(dsn):
    first, second = await claim_worker(dsn), await claim_worker(dsn)
    try:
        assert first.number() != second.number()
        assert {first.number(), second.number()} <= set(range(1 << WORKER_BITS))
        ids = IdGenerator(first), IdGenerator(second)
        made = [generator.next_id() for _ in range(2000) for generator in ids]
        assert len(set(made)) == len(made)
        assert {worker_of(i) for i in made} == {first.number(), second.number()}
    finally:
        await first.release()
        await second.release()


async def test_a_released_number_is_free_for_the_next_process(dsn):
    lease = await claim_worker(dsn)
    number = lease.number()
    assert await holder_pid(dsn, number) is not None
    await lease.release()
    assert await holder_pid(dsn, number) is None
    with pytest.raises(WorkerLost):
        lease.number()
    again = await claim_worker(dsn, numbers=range(number, number + 1))
    try:
        assert again.number() == number
    finally:
        await again.release()


async def test_a_held_number_is_never_claimed_twice(dsn):
    lease = await claim_worker(dsn)
    try:
        held = lease.number()
        with pytest.raises(WorkerNumbersExhausted):
            await claim_worker(dsn, numbers=range(held, held + 1))
    finally:
        await lease.release()


async def test_a_lease_whose_session_ends_mints_nothing_until_it_claims_again(dsn):
    lease = await claim_worker(dsn, heartbeat_s=0.2)
    ids = IdGenerator(lease)
    try:
        number = lease.number()
        killer = await asyncpg.connect(dsn)
        try:
            assert await killer.fetchval(
                "SELECT pg_terminate_backend($1)", await holder_pid(dsn, number)
            )
        finally:
            await killer.close()

        async def minted() -> int | None:
            try:
                return ids.next_id()
            except WorkerLost:
                return None

        await eventually(minted, lambda made: made is None, what="minting stopped")
        made = await eventually(minted, lambda made: made is not None, what="claimed again")
        assert worker_of(made) == lease.number()
        assert await holder_pid(dsn, lease.number()) is not None
    finally:
        await lease.release()
