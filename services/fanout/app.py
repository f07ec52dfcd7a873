"""Fan-out wiring: config, Postgres (its projection), Redis (feeds), a producer for the
work topic, and three consumer loops: events (posts, follows, accounts), work chunks and
feed rebuilds, so none of the three queues behind another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.fanout import api, consumer
from services.fanout.config import FanoutConfig
from services.fanout.store import FanoutStore
from shared import logs, runtime
from shared.kafka import ConsumerLoop, event_producer, start_with_retry
from shared.redis_cluster import AnyRedis
from shared.web import METRICS, build_app

SCHEMA = "fanout"
POOL = web.AppKey("fanout_pool", asyncpg.Pool)
REDIS: web.AppKey[AnyRedis] = web.AppKey("fanout_redis")
PULL_SET_SYNC_S = 30.0  # how often the Redis pull set is re-checked against Postgres


def create_app(config: FanoutConfig) -> web.Application:
    app = build_app("Weitao fanout", config.common.jwt_secret, api.ROUTES)
    bootstrap = config.common.kafka_bootstrap

    async def wiring(app: web.Application) -> AsyncIterator[None]:
        store = FanoutStore(app[POOL], app[REDIS], config.feed_cap)
        work_producer = event_producer(bootstrap)
        await start_with_retry(work_producer, "fanout-work")
        handlers = consumer.FanoutHandlers(
            store, work_producer, app[METRICS], config.pull_threshold, config.chunk_size
        )
        app[api.HANDLERS] = handlers
        # The work and rebuild groups handle every partition at once: one item's Postgres
        # read overlaps another's Redis writes. Runs of 4 bound what a crash makes redo.
        app[api.CONSUMERS] = [
            ConsumerLoop(bootstrap, consumer.GROUP, handlers.table(), app[METRICS]),
            *(
                ConsumerLoop(
                    bootstrap,
                    group,
                    table,
                    app[METRICS],
                    max_records=4,
                    partitions_at_once=config.work_concurrency,
                )
                for group, table in (
                    (consumer.WORK_GROUP, handlers.work_table()),
                    (consumer.REBUILD_GROUP, handlers.rebuild_table()),
                )
            ),
        ]
        yield
        await work_producer.stop()

    async def sync_pull_set(app: web.Application) -> None:
        await app[api.HANDLERS].store.sync_pull_set()

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.redis(REDIS, config.common.redis_url, config.common.redis_cluster),
            runtime.kafka_readiness(bootstrap),
            wiring,
            runtime.running("consumer-events", lambda app: app[api.CONSUMERS][0]),
            runtime.running("consumer-work", lambda app: app[api.CONSUMERS][1]),
            runtime.running("consumer-rebuilds", lambda app: app[api.CONSUMERS][2]),
            runtime.every("pull-set-sync", PULL_SET_SYNC_S, sync_pull_set),
        ]
    )
    return app


def main() -> None:
    config = FanoutConfig.from_env()
    logs.configure("fanout", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
