"""Calling a consumer group's handlers on decoded events: outages are waited out, other
failures retried, and an event that keeps failing, or that its handler finds malformed,
is moved to the dead-letter topic."""

from __future__ import annotations

import collections
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from shared.events import BadEvent, Contract, Envelope, decode
from shared.kafka.letters import DeadLetter, Record
from shared.outages import is_outage
from shared.retry import Backoff, retry_forever
from shared.topics import DEAD_LETTERS

log = logging.getLogger(__name__)
C = TypeVar("C", bound=Contract)


@dataclass(frozen=True)
class Batch:
    """Marks a handler that takes a list of consecutive events at once; with `with_ids`,
    each as `Identified`, to deduplicate by the envelope's id. One Batch registered for
    several types gets their consecutive events together, in order."""

    fn: Callable[[list[Any]], Awaitable[None]]
    with_ids: bool = False


@dataclass(frozen=True)
class Identified(Generic[C]):
    """An event with the id of the envelope it came in (the unit of deduplication)."""

    event_id: str
    event: C


EventHandler = Callable[[Any], Awaitable[None]] | Batch
Call = Callable[[], Awaitable[None]]
Run = list[tuple[Record, Envelope, Contract]]
MAX_HANDLER_ATTEMPTS = 8  # a handler that fails this often on one event is a bug, not an outage
# A handler waiting for a dependency tries again at least this often, so the end of an
# outage is seen within it; how long it waits in all has no bound.
OUTAGE_RETRY_CAP_S = 5.0

_EVENT_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def events_counter(registry: CollectorRegistry) -> Counter:
    """One counter per registry, shared by every consumer loop of a process. Outcomes:
    handled, ignored, undecodable, waiting (had to wait for a dependency), dead_lettered."""
    if registry not in _EVENT_COUNTERS:
        _EVENT_COUNTERS[registry] = Counter(
            "consumer_events",
            "Events consumed",
            ["group", "type", "outcome"],
            registry=registry,
        )
    return _EVENT_COUNTERS[registry]


class EventHandling:
    """Handles records with the handler registered for their event type (the part of
    `ConsumerLoop` that knows nothing of partitions and offsets).

    A failure that means Redis, Postgres or Kafka is unavailable (`shared.outages`) is
    waited out for as long as it lasts and does not count as an attempt. Any other failure
    is retried `max_attempts` times, then the event goes to the dead-letter topic; a
    BadEvent (the handler found the event malformed) goes there at once, since retrying
    cannot mend it. A `Batch` that fails is retried one event at a time first, so only
    the event at fault is given up on, never the run it came in."""

    group: str
    handlers: dict[type[Contract], EventHandler]
    max_attempts: int
    dead_letters: AIOKafkaProducer | None
    _events: Counter

    async def handle_all(self, records: Iterable[Record]) -> None:
        """Handles records in order, each to completion. Consecutive events whose
        handler is the same `Batch` reach it together (one transaction or pipeline for a
        run of follows, say); order across handlers is kept."""
        run: Run = []
        for record in records:
            try:
                envelope = Envelope.decode(record.value or b"")
                event = decode(envelope)
            except BadEvent as exc:
                if run:  # what came before is handled before this is set aside
                    await self._dispatch(run)
                    run = []
                log.error("undecodable event", extra={"error": str(exc)})
                self._events.labels(self.group, "unknown", "undecodable").inc()
                await self._dead_letter(record, f"undecodable: {exc}")
                continue
            if event is None or type(event) not in self.handlers:
                self._events.labels(self.group, envelope.type, "ignored").inc()
                continue
            if run and self.handlers[type(run[0][2])] is not self.handlers[type(event)]:
                await self._dispatch(run)
                run = []
            run.append((record, envelope, event))
        if run:
            await self._dispatch(run)

    async def _dispatch(self, run: Run) -> None:
        handler = self.handlers[type(run[0][2])]
        if isinstance(handler, Batch) and len(run) > 1:
            events = [_given(handler, envelope, event) for _, envelope, event in run]
            envelopes = [envelope for _, envelope, _ in run]
            error = await self._call(lambda: handler.fn(events), envelopes, attempts=1)
            if error is None:
                return
            log.warning(
                "batch failed; retrying its events one at a time",
                exc_info=error,
                extra={"type": run[0][1].type, "count": len(run)},
            )
        for record, envelope, event in run:
            call = _one(handler, envelope, event)
            error = await self._call(call, [envelope], self.max_attempts)
            if error is not None:
                await self._give_up(record, envelope, error)

    async def _call(self, call: Call, envelopes: list[Envelope], attempts: int) -> Exception | None:
        """Calls (handling `envelopes`) until it succeeds (None), or has failed `attempts`
        times other than by an outage, or once by a BadEvent (the last failure)."""
        envelope = envelopes[0]
        failures = 0
        retry = Backoff()
        wait = Backoff(cap=OUTAGE_RETRY_CAP_S)
        waiting_since: float | None = None
        while True:
            try:
                await call()
            except Exception as exc:
                if is_outage(exc):
                    if waiting_since is None:
                        waiting_since = time.monotonic()
                        self._count(envelopes, "waiting")
                    log.warning(
                        "handler waiting for a dependency",
                        extra={
                            "type": envelope.type,
                            "error": repr(exc),
                            "waited_s": round(time.monotonic() - waiting_since, 1),
                        },
                    )
                    await wait.sleep()
                    continue
                failures += 1
                if failures >= attempts or isinstance(exc, BadEvent):
                    return exc
                log.exception(
                    "handler failed; retrying", extra={"type": envelope.type, "attempt": failures}
                )
                await retry.sleep()
            else:
                self._count(envelopes, "handled")
                return None

    def _count(self, envelopes: list[Envelope], outcome: str) -> None:
        """Counts `outcome` for each envelope under its own type."""
        for kind, count in collections.Counter(e.type for e in envelopes).items():
            self._events.labels(self.group, kind, outcome).inc(count)

    async def _give_up(self, record: Record, envelope: Envelope, error: Exception) -> None:
        log.error(
            "handler failed; event moved to the dead-letter topic",
            exc_info=error,
            extra={"type": envelope.type, "event_id": envelope.event_id},
        )
        await self._dead_letter(record, repr(error))
        self._events.labels(self.group, envelope.type, "dead_lettered").inc()

    async def _dead_letter(self, record: Record, error: str) -> None:
        """Keeps `record` on the dead-letter topic; waits for Kafka rather than lose it,
        since the caller commits past it next."""
        if self.dead_letters is None:
            raise RuntimeError(f"no dead-letter producer outside run(): {error}")
        letter = DeadLetter.of(self.group, record, error)
        sender = self.dead_letters
        await retry_forever(
            lambda: sender.send_and_wait(
                DEAD_LETTERS.name, letter.value, key=self.group.encode(), headers=letter.headers()
            ),
            KafkaError,
            Backoff(first=0.2),
            lambda exc: log.warning("dead-letter topic unreachable", extra={"error": repr(exc)}),
        )


def _one(handler: EventHandler, envelope: Envelope, event: Contract) -> Call:
    """A call of `handler` on `event` alone."""
    if isinstance(handler, Batch):
        return lambda: handler.fn([_given(handler, envelope, event)])
    return lambda: handler(event)


def _given(handler: Batch, envelope: Envelope, event: Contract) -> Any:
    """What a batch handler is given of one event: the event, or it and its envelope id."""
    return Identified(envelope.event_id, event) if handler.with_ids else event
