"""Transactional outbox: a state change and its event commit together; a relay publishes.

`enqueue` runs inside the caller's transaction, so an API call succeeds while Kafka is
down and its event is published once Kafka is back. The relay holds an advisory lock
while it publishes, so at most one process per service publishes at a time and events
leave in the order they were written. Publish-then-delete makes delivery at-least-once.

Each service that emits events has this table in its schema (see its migrations):
    CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key text NOT NULL,
                         envelope bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from itertools import islice

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from shared.events import Contract
from shared.kafka import producer, start_with_retry
from shared.metrics import counter
from shared.outages import is_outage
from shared.retry import Backoff

log = logging.getLogger(__name__)

BATCH = 500
IDLE_POLL_S = 1.0  # fallback when a NOTIFY is missed (e.g. the listener reconnected)


async def enqueue(conn: asyncpg.Connection, schema: str, *events: Contract) -> None:
    """Adds events to the outbox in the caller's transaction and wakes the relay on commit."""
    rows = [(e.TOPIC.name, e.key(), e.envelope().encode()) for e in events]
    await conn.executemany("INSERT INTO outbox (topic, key, envelope) VALUES ($1, $2, $3)", rows)
    await conn.execute("SELECT pg_notify($1, '')", channel(schema))


async def enqueue_in_batches(
    conn: asyncpg.Connection, schema: str, events: Iterable[Contract], batch: int = 5000
) -> int:
    """Enqueues many events, one transaction per `batch` (bulk re-emits); returns how many."""
    remaining = iter(events)
    count = 0
    while chunk := list(islice(remaining, batch)):  # built a batch at a time, not all at once
        async with conn.transaction():
            await enqueue(conn, schema, *chunk)
        count += len(chunk)
    return count


def _handed_back(exc: Exception) -> bool:
    """asyncpg hands a connection the server ended back to its pool, and the proxy the
    relay holds then refuses every call: its connection is lost, not misused."""
    return isinstance(exc, asyncpg.InterfaceError) and "released back to the pool" in str(exc)


def channel(schema: str) -> str:
    """The Postgres NOTIFY channel on which a service's outbox wakes its relay."""
    return f"weitao_outbox_{schema}"


class OutboxRelay:
    """Publishes a schema's outbox to Kafka, oldest first, then deletes what was sent."""

    def __init__(
        self, pool: asyncpg.Pool, schema: str, bootstrap: str, registry: CollectorRegistry
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.bootstrap = bootstrap
        self._wake = asyncio.Event()
        self._on_notify = lambda *_: self._wake.set()
        self._published = counter(registry, "outbox_published", "Outbox events published to Kafka")

    async def run(self) -> None:
        """Relays until cancelled, through outages of Postgres and Kafka: a lost
        connection is replaced, a Kafka that is away is waited for."""
        backoff = Backoff(first=0.2)
        while True:
            try:
                await self._relay_on_one_connection(backoff)
            except Exception as exc:
                if not (is_outage(exc) or _handed_back(exc)):
                    raise
                log.warning("outbox relay lost Postgres; reconnecting", extra={"error": repr(exc)})
                await backoff.sleep()

    async def _relay_on_one_connection(self, backoff: Backoff) -> None:
        """One pooled connection listens and publishes: holding one while asking the pool
        for another is how pools deadlock. A NOTIFY that arrives while it is inside a
        batch's transaction is delivered when that transaction ends."""
        listener = await self.pool.acquire()
        kafka: AIOKafkaProducer | None = None
        try:
            await listener.add_listener(channel(self.schema), self._on_notify)
            backoff.reset()
            while True:
                if kafka is None:
                    kafka = producer(self.bootstrap)
                    await start_with_retry(kafka, f"outbox-{self.schema}")
                self._wake.clear()  # before reading, so a NOTIFY during the batch is kept
                try:
                    sent = await self.publish_batch(listener, kafka)
                    backoff.reset()
                except (TimeoutError, KafkaError) as exc:
                    log.warning(
                        "outbox relay cannot publish; will retry", extra={"error": repr(exc)}
                    )
                    await kafka.stop()
                    kafka = None
                    await backoff.sleep()
                    continue
                if sent < BATCH:
                    try:
                        await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
                    except TimeoutError:
                        pass
        finally:
            if kafka is not None:
                await kafka.stop()
            try:
                await listener.remove_listener(channel(self.schema), self._on_notify)
                await self.pool.release(listener)
            except asyncpg.InterfaceError:
                pass  # the server ended the connection and the pool has taken it back

    async def publish_batch(self, conn: asyncpg.Connection, kafka: AIOKafkaProducer) -> int:
        """Publishes up to BATCH events; returns how many (0 when another relay holds the lock)."""
        async with conn.transaction():
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", channel(self.schema)
            ):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, envelope FROM outbox ORDER BY id LIMIT $1", BATCH
            )
            if not rows:
                return 0
            pending = [
                await kafka.send(r["topic"], value=bytes(r["envelope"]), key=r["key"].encode())
                for r in rows
            ]
            await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        self._published.inc(len(rows))
        return len(rows)
