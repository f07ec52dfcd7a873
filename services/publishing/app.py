"""Publishing wiring: config, Postgres (own schema), the outbox relay, the authors consumer,
the group-buy settler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.publishing import api, consumer, group_buy_api, interaction_api
from services.publishing.config import PublishingConfig
from services.publishing.group_buy_store import GroupBuyStore
from services.publishing.group_buys import GroupBuyService
from services.publishing.interactions import InteractionStore
from services.publishing.service import InteractionService, PostService
from services.publishing.store import SCHEMA, PostStore
from shared import logs, runtime
from shared.kafka import ConsumerLoop
from shared.outbox import OutboxRelay
from shared.timeutil import utcnow
from shared.web import METRICS, build_app

POOL = web.AppKey("publishing_pool", asyncpg.Pool)


def create_app(config: PublishingConfig) -> web.Application:
    app = build_app(
        "Weitao publishing",
        config.common.jwt_secret,
        api.ROUTES + interaction_api.ROUTES + group_buy_api.ROUTES,
        api.ERROR_STATUSES,
    )
    bootstrap = config.common.kafka_bootstrap

    async def store(app: web.Application) -> AsyncIterator[None]:
        app[api.STORE] = PostStore(app[POOL])
        app[interaction_api.INTERACTIONS] = InteractionService(
            InteractionStore(app[POOL]), app[api.IDS], utcnow
        )
        app[group_buy_api.GROUP_BUYS] = GroupBuyService(GroupBuyStore(app[POOL]), utcnow)
        app[api.SERVICE] = PostService(
            app[api.STORE], app[api.IDS], config.daily_post_limit, utcnow
        )
        yield

    def relay(app: web.Application) -> OutboxRelay:
        return OutboxRelay(app[POOL], SCHEMA, bootstrap, app[METRICS])

    def consumer_loop(app: web.Application) -> ConsumerLoop:
        handlers = consumer.handlers(app[api.SERVICE])
        return ConsumerLoop(bootstrap, consumer.GROUP, handlers, app[METRICS])

    async def settle_group_buys(app: web.Application) -> None:
        await app[group_buy_api.GROUP_BUYS].run_settler()

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.kafka_readiness(bootstrap),
            runtime.id_worker(api.IDS, config.common.postgres_dsn),
            store,
            runtime.running("outbox-relay", relay),
            runtime.running("consumer", consumer_loop),
            runtime.background("group-buy-settler", settle_group_buys),
        ]
    )
    return app


def main() -> None:
    config = PublishingConfig.from_env()
    logs.configure("publishing", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
