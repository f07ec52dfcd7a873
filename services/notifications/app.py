"""Notifications wiring: config, Postgres (its own schema), and the consumer of follows,
post interactions and accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.notifications import api, consumer
from services.notifications.config import NotificationsConfig
from services.notifications.reads import NotificationReader
from services.notifications.service import NotificationService
from services.notifications.store import NotificationStore
from shared import logs, runtime, seen_events
from shared.kafka import ConsumerLoop
from shared.web import METRICS, build_app

SCHEMA = "notifications"
POOL = web.AppKey("notifications_pool", asyncpg.Pool)
LOOP = web.AppKey("notifications_consumer", ConsumerLoop)
# Event ids are kept a day longer than Kafka keeps events (log.retention.hours=168 in
# the local stack; set it to the deployment's retention): older ones cannot come again.


def create_app(config: NotificationsConfig) -> web.Application:
    app = build_app("Weitao notifications", config.common.jwt_secret, api.ROUTES)

    async def wiring(app: web.Application) -> AsyncIterator[None]:
        service = NotificationService(NotificationStore(app[POOL]), NotificationReader(app[POOL]))
        app[api.SERVICE] = service
        handlers = consumer.NotificationHandlers(service)
        app[LOOP] = ConsumerLoop(
            config.common.kafka_bootstrap,
            consumer.GROUP,
            handlers.table(),
            app[METRICS],
            partitions_at_once=consumer.PARTITIONS_AT_ONCE,
        )
        yield

    async def forget_old_event_ids(app: web.Application) -> None:
        await seen_events.forget_forever(app[POOL])

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.kafka_readiness(config.common.kafka_bootstrap),
            wiring,
            runtime.running("consumer", lambda app: app[LOOP]),
            runtime.background("event-id-expiry", forget_old_event_ids),
        ]
    )
    return app


def main() -> None:
    config = NotificationsConfig.from_env()
    logs.configure("notifications", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
