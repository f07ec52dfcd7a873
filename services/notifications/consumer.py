"""Notifications' Kafka handlers: follows and post interactions and group-buy outcomes into
groups, accounts into the projection that names sample accounts, deleted posts out of
sight: each event decoded into its effects (domain.py) for the use cases (service.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifications.domain import (
    Delivered,
    Effect,
    change_of_follow,
    decision_of,
    effects_of_interaction,
)
from services.notifications.service import NotificationService
from shared.events import (
    AccountChanged,
    Contract,
    FollowChanged,
    GroupBuyDecided,
    PostDeleted,
    PostInteraction,
)
from shared.kafka import Batch, EventHandler, Identified

GROUP = "notifications"
# Partitions handled at once: one batch's round trips overlap another's. Each key's
# events come from one partition (follows are keyed by the followed account, interactions
# by post), and a batch locks its keys in sorted order, so concurrent batches never wait
# on each other for long, nor deadlock.
PARTITIONS_AT_ONCE = 4


class NotificationHandlers:
    def __init__(self, service: NotificationService) -> None:
        self.service = service

    def table(self) -> dict[type[Contract], EventHandler]:
        return {
            FollowChanged: Batch(self._effects(lambda e: [change_of_follow(e)]), with_ids=True),
            PostInteraction: Batch(self._effects(effects_of_interaction), with_ids=True),
            GroupBuyDecided: Batch(self._effects(lambda e: [decision_of(e)]), with_ids=True),
            AccountChanged: Batch(self.service.apply_accounts),
            PostDeleted: Batch(self.service.forget_posts),
        }

    def _effects(self, effects_of: Callable[[Any], list[Effect]]) -> Callable[[list], Any]:
        async def handle(batch: list[Identified]) -> None:
            await self.service.apply([Delivered(i.event_id, effects_of(i.event)) for i in batch])

        return handle
