"""Fan-out wiring: config, Postgres (its projection), Redis (the feeds), the consumer."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from services.fanout import api, consumer
from services.fanout.config import FanoutConfig
from services.fanout.store import FanoutStore
from shared import logs, runtime
from shared.http import METRICS, build_app
from shared.kafka import ConsumerLoop

SCHEMA = "fanout"
POOL = web.AppKey("fanout_pool", asyncpg.Pool)
REDIS = web.AppKey("fanout_redis", aioredis.Redis)


def create_app(config: FanoutConfig) -> web.Application:
    app = build_app("Weitao fanout", config.common.jwt_secret, api.ROUTES)
    bootstrap = config.common.kafka_bootstrap

    async def wiring(app: web.Application):
        store = FanoutStore(app[POOL], app[REDIS], config.feed_cap)
        handlers = consumer.FanoutHandlers(store, app[METRICS])
        app[api.HANDLERS] = handlers
        app[api.CONSUMER] = ConsumerLoop(bootstrap, consumer.GROUP, handlers.table(), app[METRICS])
        yield

    async def consume(app: web.Application) -> None:
        await app[api.CONSUMER].run()

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.redis(REDIS, config.common.redis_url),
            runtime.kafka_readiness(bootstrap),
            wiring,
            runtime.background("consumer", consume),
        ]
    )
    return app


def main() -> None:
    config = FanoutConfig.from_env()
    logs.configure("fanout", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
