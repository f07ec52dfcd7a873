"""64-bit, time-ordered ids (Snowflake layout), sent to callers as decimal strings.

41 bits of milliseconds since WEITAO_EPOCH, 10 bits of worker, 12 bits of sequence.
Time order matters: feeds break score ties by id, and newer ids sort after older ones.
A process claims its worker number from Postgres (`claim_worker`), so no two live
processes, in any container or on any host, mint with the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from typing import Annotated, Protocol

import asyncpg
import msgspec

from shared.errors import ApiError
from shared.retry import Backoff, retry_forever

log = logging.getLogger(__name__)

WEITAO_EPOCH_MS = 1_700_000_000_000  # 2023-11-14: keeps ids well inside 63 bits for decades
WORKER_BITS = 10
_SEQUENCE_BITS = 12
_MAX_SEQUENCE = (1 << _SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1  # ids are Postgres bigints

# Canonical ASCII decimal: "0" or no leading zero. `[0-9]` is ASCII only, and fullmatch
# leaves no trailing newline ("²", "٣", "05" and "5\n" are not numbers of this API).
_CANONICAL_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class Worker(Protocol):
    """Where a generator gets its worker number; raises while the number is not held."""

    def number(self) -> int:
        """The worker number held now; raises while none is held."""
        ...


class FixedWorker:
    """A worker number given by hand: tests and one-off tools that own a number."""

    def __init__(self, number: int) -> None:
        if not 0 <= number < 1 << WORKER_BITS:
            raise ValueError(f"worker number {number} outside 0..{(1 << WORKER_BITS) - 1}")
        self._number = number

    def number(self) -> int:
        """The number given."""
        return self._number


class WorkerLost(ApiError):
    """The process holds no worker number at the moment, so it mints nothing (503)."""

    def __init__(self) -> None:
        super().__init__(503, "not_ready", "no id worker number held right now; retry shortly")


class WorkerNumbersExhausted(RuntimeError):
    """Every worker number is held by a live process."""


# The first key of pg_try_advisory_lock(int, int) ("WTID"); the second is the number.
# Two-key locks never collide with the one-key locks of migrations and the outbox relay.
WORKER_LOCK_NAMESPACE = 0x57544944
HEARTBEAT_S = 2.0


async def _lock_first_free(conn: asyncpg.Connection, numbers: range) -> int | None:
    for number in numbers:
        claim = "SELECT pg_try_advisory_lock($1, $2)"
        if await conn.fetchval(claim, WORKER_LOCK_NAMESPACE, number):
            return number
    return None


async def _connect_and_claim(dsn: str, numbers: range) -> tuple[asyncpg.Connection, int]:
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "weitao-id-worker"})
    try:
        number = await _lock_first_free(conn, numbers)
    except BaseException:
        conn.terminate()
        raise
    if number is None:
        await conn.close()
        raise WorkerNumbersExhausted(f"every worker number in {numbers} is held")
    log.info("id worker number claimed", extra={"worker": number})
    return conn, number


class WorkerLease:
    """A worker number held by a session advisory lock on a connection of its own.

    Postgres frees the lock only when that session ends, so while the connection is
    confirmed alive (a heartbeat every `heartbeat_s`) no other process holds the number.
    Once it closes or goes unconfirmed for 4 heartbeats, `number()` raises WorkerLost
    and the lease claims a number again (perhaps another) on a new connection.
    """

    def __init__(
        self, dsn: str, numbers: range, conn: asyncpg.Connection, number: int, heartbeat_s: float
    ) -> None:
        self._dsn, self._numbers, self._heartbeat_s = dsn, numbers, heartbeat_s
        self._conn: asyncpg.Connection | None = conn
        self._number = number
        self._confirmed = time.monotonic()
        self._keeper = asyncio.create_task(self._keep(), name="id-worker-lease")

    def number(self) -> int:
        """The number held now; WorkerLost while none is."""
        conn = self._conn
        stale = time.monotonic() - self._confirmed > 4 * self._heartbeat_s
        if conn is None or conn.is_closed() or stale:
            raise WorkerLost()
        return self._number

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            conn = self._conn
            if conn is None:  # released
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._heartbeat_s)
                self._confirmed = time.monotonic()
            except Exception:
                log.warning("id worker lease lost; claiming again", extra={"worker": self._number})
                self._conn = None  # stop minting before anything else
                conn.terminate()
                await self._claim_again()

    async def _claim_again(self) -> None:
        self._conn, self._number = await retry_forever(
            lambda: _connect_and_claim(self._dsn, self._numbers),
            Exception,
            Backoff(first=0.5),
            lambda exc: log.warning("id worker number not claimed yet", exc_info=exc),
        )
        self._confirmed = time.monotonic()

    async def release(self) -> None:
        """Stops the heartbeat and ends the session, which frees the number."""
        self._keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keeper
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def claim_worker(
    dsn: str, numbers: range = range(1 << WORKER_BITS), heartbeat_s: float = HEARTBEAT_S
) -> WorkerLease:
    """Claims the first worker number no live process holds; WorkerNumbersExhausted if none."""
    conn, number = await _connect_and_claim(dsn, numbers)
    return WorkerLease(dsn, numbers, conn, number, heartbeat_s)


class IdGenerator:
    """Thread-safe Snowflake generator minting as `worker`, an int or a claimed lease."""

    def __init__(self, worker: int | Worker) -> None:
        self._worker = FixedWorker(worker) if isinstance(worker, int) else worker
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        """A new id; raises what the worker raises when its number is not held (no id then)."""
        worker = self._worker.number()
        with self._lock:
            now = int(time.time() * 1000)
            # A clock that steps back must not repeat ids: keep counting on the last millisecond.
            now = max(now, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _MAX_SEQUENCE
                if self._sequence == 0:
                    now += 1  # sequence exhausted in this millisecond: borrow the next one
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - WEITAO_EPOCH_MS) << (WORKER_BITS + _SEQUENCE_BITS))
                | (worker << _SEQUENCE_BITS)
                | self._sequence
            )


def id_time_ms(snowflake: int) -> int:
    """The epoch milliseconds at which an id was made."""
    return (snowflake >> (WORKER_BITS + _SEQUENCE_BITS)) + WEITAO_EPOCH_MS


def parse_decimal(text: object, low: int, high: int) -> int | None:
    """`text` as an int in low..high (0 <= low) if it is canonical ASCII decimal, else None."""
    # The length check comes first: int() of thousands of digits is slow, then a ValueError.
    if not isinstance(text, str) or not 0 < len(text) <= len(str(high)):
        return None
    if _CANONICAL_DECIMAL.fullmatch(text) is None:
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: object) -> int | None:
    """A positive 64-bit id from its canonical decimal string, or None when it is not one."""
    return parse_decimal(text, 1, MAX_ID)


def decimal_pattern(high: int) -> str:
    """An anchored regex matching exactly the canonical decimals 1..high (OpenAPI strings)."""
    digits = str(high)
    branches = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    # Numbers as long as `high`: its first i digits, a smaller digit, then any digits.
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - i - 1
            branches.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    branches.append(digits)
    return f"^(?:{'|'.join(branches)})$"


ID_REGEX = decimal_pattern(MAX_ID)

# A 64-bit id as JSON bodies carry it (canonical decimal text, 1..2^63-1), for msgspec
# types and their schemas. The pattern's `$` lets a trailing newline through, so a
# handler still holds the id to the whole string with `parse_id`.
Id = Annotated[str, msgspec.Meta(pattern=ID_REGEX)]
