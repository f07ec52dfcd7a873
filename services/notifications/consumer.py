"""Notifications' Kafka handlers: follows and post interactions into groups, accounts into
the projection that names sample accounts. Each batch is one transaction keyed by the
events' envelope ids (store.NotificationStore.apply).

Group buy kinds have no events yet (publishing emits none): nothing here makes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifications.domain import Change, change_of_follow, change_of_interaction
from services.notifications.store import Delivered, NotificationStore
from shared.events import AccountChanged, Contract, FollowChanged, PostInteraction
from shared.kafka import Batch, ConsumerLoop, EventHandler

GROUP = "notifications"
# Partitions handled at once: one batch's round trips overlap another's. Each key's
# events come from one partition (follows are keyed by the followed account, interactions
# by post), and a batch locks its keys in sorted order, so concurrent batches never wait
# on each other for long, nor deadlock.
PARTITIONS_AT_ONCE = 4


class IdentifiedLoop(ConsumerLoop):
    """A consumer loop whose handlers can ask for the envelope id of the event in hand,
    kept by object identity while a run is dispatched (the same device as insights'; a
    shared `Batch(..., envelopes=True)` would replace both)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_ids: dict[int, str] = {}

    async def _dispatch(self, run: list) -> None:
        for _, envelope, event in run:
            self.event_ids[id(event)] = envelope.event_id
        try:
            await super()._dispatch(run)
        finally:
            for _, _, event in run:
                self.event_ids.pop(id(event), None)


class NotificationHandlers:
    def __init__(self, store: NotificationStore) -> None:
        self.store = store
        self.event_ids: Callable[[], dict[int, str]] = dict

    def bind(self, loop: IdentifiedLoop) -> None:
        """Takes envelope ids from `loop` (the one that calls these handlers)."""
        self.event_ids = lambda: loop.event_ids

    def table(self) -> dict[type[Contract], EventHandler]:
        return {
            FollowChanged: Batch(self._changes(change_of_follow)),
            PostInteraction: Batch(self._changes(change_of_interaction)),
            AccountChanged: Batch(self.store.apply_accounts),
        }

    def _changes(self, change_of: Callable[[Any], Change | None]) -> Callable[[list], Any]:
        async def handle(events: list[Contract]) -> None:
            ids = self.event_ids()
            await self.store.apply([Delivered(ids[id(e)], change_of(e)) for e in events])

        return handle
