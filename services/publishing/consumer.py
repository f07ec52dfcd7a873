"""Publishing's Kafka handlers: it keeps an authors projection from account events."""

from __future__ import annotations

from services.publishing.store import PostStore
from shared.events import AccountChanged, Contract
from shared.kafka import Batch, EventHandler

GROUP = "publishing"


def handlers(store: PostStore) -> dict[type[Contract], EventHandler]:
    return {AccountChanged: Batch(store.apply_accounts)}
