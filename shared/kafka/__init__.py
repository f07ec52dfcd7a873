"""Kafka I/O with explicit at-least-once semantics (aiokafka).

Producers are idempotent with acks=all. The consumer loop commits a partition's offset
only after every handler for the records before it has finished; a crash replays the
uncommitted tail, which every handler tolerates (they are idempotent). A handler waits
out an outage of Redis, Postgres or Kafka for as long as it lasts (`shared.outages`); an
event a handler keeps failing on for any other reason is moved to the dead-letter topic
before its offset is committed, so it is never simply dropped (`python -m
shared.deadletters` lists and replays them).

- `clients`: producers, `send(producer, contract)`, client start, readiness probe.
- `letters`: the dead-letter record.
- `handling`: calling handlers, retries, waiting, dead-lettering.
- `loop`: partitions, concurrency, commits, rebalances.
"""

from shared.kafka.clients import (
    event_producer,
    kafka_reachable,
    producer,
    send,
    start_with_retry,
)
from shared.kafka.handling import MAX_HANDLER_ATTEMPTS, Batch, EventHandler, Identified
from shared.kafka.letters import MAX_ERROR_CHARS, DeadLetter, Record
from shared.kafka.loop import ConsumerLoop

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_HANDLER_ATTEMPTS",
    "Batch",
    "ConsumerLoop",
    "DeadLetter",
    "EventHandler",
    "Identified",
    "Record",
    "event_producer",
    "kafka_reachable",
    "producer",
    "send",
    "start_with_retry",
]
