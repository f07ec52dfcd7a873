"""Notifications wiring: config, Postgres (its own schema), and the consumer of follows,
post interactions and accounts."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aiohttp import web

from services.notifications import api, consumer
from services.notifications.config import NotificationsConfig
from services.notifications.reads import NotificationReader
from services.notifications.store import NotificationStore
from shared import logs, runtime
from shared.web import METRICS, build_app

SCHEMA = "notifications"
POOL = web.AppKey("notifications_pool", asyncpg.Pool)
LOOP = web.AppKey("notifications_consumer", consumer.IdentifiedLoop)


def create_app(config: NotificationsConfig) -> web.Application:
    app = build_app("Weitao notifications", config.common.jwt_secret, api.ROUTES)

    async def wiring(app: web.Application):
        app[api.READER] = NotificationReader(app[POOL])
        handlers = consumer.NotificationHandlers(NotificationStore(app[POOL]))
        app[LOOP] = consumer.IdentifiedLoop(
            config.common.kafka_bootstrap,
            consumer.GROUP,
            handlers.table(),
            app[METRICS],
            partitions_at_once=consumer.PARTITIONS_AT_ONCE,
        )
        handlers.bind(app[LOOP])
        yield

    async def consume(app: web.Application) -> None:
        await app[LOOP].run()

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.kafka_readiness(config.common.kafka_bootstrap),
            wiring,
            runtime.background("consumer", consume),
        ]
    )
    return app


def main() -> None:
    config = NotificationsConfig.from_env()
    logs.configure("notifications", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
