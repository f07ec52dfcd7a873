"""Publishing's Kafka handlers: it keeps an authors projection from account events, and
retracts what a suspended account got published before that projection learnt of it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry

from services.publishing.domain import AccountChange
from services.publishing.store import PostStore
from shared.events import AccountChanged, BadEvent, Envelope
from shared.kafka import Batch, ConsumerLoop, Record
from shared.timeutil import parse_rfc3339

GROUP = "publishing"
ChangeKey = tuple[str, int]  # (account id, version): one change of one account


class AccountsLoop(ConsumerLoop):
    """Publishing's consumer loop. A suspension retracts the posts accepted since it was
    made, and when it was made is the envelope's `occurred_at`, which handlers are not
    given: this loop reads it off the records it is about to handle."""

    def __init__(self, bootstrap: str, store: PostStore, registry: CollectorRegistry) -> None:
        super().__init__(bootstrap, GROUP, {AccountChanged: Batch(self._apply)}, registry)
        self.store = store
        self._made_at: dict[ChangeKey, datetime] = {}

    async def handle_all(self, records: Iterable[Record]) -> None:
        records = list(records)
        times = dict(_change_times(records))
        self._made_at.update(times)
        try:
            await super().handle_all(records)
        finally:
            for key in times:
                self._made_at.pop(key, None)

    async def _apply(self, events: list[AccountChanged]) -> None:
        changes = []
        for event in events:
            at = self._made_at.get((event.account_id, event.version))
            if at is None:
                raise BadEvent(f"account.changed {event.account_id} v{event.version}: no time")
            changes.append(AccountChange(event, at))
        await self.store.apply_accounts(changes)


def _change_times(records: list[Record]) -> Iterable[tuple[ChangeKey, datetime]]:
    """When each account change among the records was made; what does not decode is
    left to the loop, which sets it aside."""
    for record in records:
        try:
            envelope = Envelope.decode(record.value or b"")
            if envelope.type == AccountChanged.TYPE:
                payload = envelope.payload
                key = (str(payload["account_id"]), int(payload["version"]))
                yield key, parse_rfc3339(envelope.occurred_at)
        except (BadEvent, KeyError, TypeError, ValueError):
            continue
