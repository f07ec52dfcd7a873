"""Publishing's Kafka handlers: it keeps an authors projection from account events, and
retracts what a suspended account got published before that projection learnt of it."""

from __future__ import annotations

from services.publishing.domain import AccountChange
from services.publishing.service import PostService
from shared.events import AccountChanged, Contract
from shared.kafka import Batch, EventHandler

GROUP = "publishing"


def handlers(service: PostService) -> dict[type[Contract], EventHandler]:
    """The authors projection: a run of account changes in one transaction."""

    async def apply(events: list[AccountChanged]) -> None:
        await service.apply_accounts([AccountChange.of(event) for event in events])

    return {AccountChanged: Batch(apply)}
