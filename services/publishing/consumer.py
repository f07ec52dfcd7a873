"""Publishing's Kafka handlers: it keeps an authors projection from account events."""

from __future__ import annotations

from services.publishing.store import PostStore
from shared.events import AccountChanged, Contract
from shared.kafka import EventHandler

GROUP = "publishing"


def handlers(store: PostStore) -> dict[type[Contract], EventHandler]:
    async def on_account_changed(event: AccountChanged) -> None:
        await store.apply_account(event)

    return {AccountChanged: on_account_changed}  # type: ignore[dict-item]
