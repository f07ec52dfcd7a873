"""Insights wiring: config, Postgres (its own schema), Redis (rankings), the consumer of
engagement, follows, posts, interactions and accounts, and two refresh loops: the
official ranking (incremental, every second) and Swing's related accounts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.insights import api, consumer
from services.insights.associated import Associated
from services.insights.config import InsightsConfig
from services.insights.domain import shanghai_day
from services.insights.official import OfficialRanking
from services.insights.service import Ingest, Reads
from services.insights.stats_store import StatsReader
from services.insights.store import IngestStore
from services.insights.suspicion import SuspicionDetector
from services.insights.swing_job import SwingRefresher, SwingSchedule
from shared import logs, runtime, seen_events
from shared.kafka import ConsumerLoop
from shared.redis_cluster import AnyRedis
from shared.timeutil import utcnow
from shared.web import METRICS, build_app

SCHEMA = "insights"
POOL = web.AppKey("insights_pool", asyncpg.Pool)
REDIS: web.AppKey[AnyRedis] = web.AppKey("insights_redis")
LOOP = web.AppKey("insights_consumer", ConsumerLoop)
OFFICIAL = web.AppKey("insights_official", OfficialRanking)
ASSOCIATED = web.AppKey("insights_associated", Associated)
SUSPICION = web.AppKey("insights_suspicion", SuspicionDetector)
SWING = web.AppKey("insights_swing", SwingRefresher)
SWING_SCHEDULE = web.AppKey("insights_swing_schedule", SwingSchedule)
JUDGE_IDLE_S = 0.5  # the judge's pause when no follows await judgement
# Event ids are kept a day longer than Kafka keeps events (log.retention.hours=168 in
# the local stack; set it to the deployment's retention): older ones cannot come again.


def create_app(config: InsightsConfig) -> web.Application:
    app = build_app("Weitao insights", config.common.jwt_secret, api.ROUTES, api.ERROR_STATUSES)
    bootstrap = config.common.kafka_bootstrap

    async def wiring(app: web.Application) -> AsyncIterator[None]:
        pool, redis = app[POOL], app[REDIS]
        app[OFFICIAL] = OfficialRanking(pool, redis, config.official_days)
        app[ASSOCIATED] = Associated(pool, redis)
        app[SWING] = SwingRefresher(config.common.postgres_dsn, SCHEMA, redis, config.swing_days)
        app[SWING_SCHEDULE] = SwingSchedule(
            app[SWING], config.swing_refresh_s, app[METRICS], config.swing_rest_per_pass
        )
        app[SUSPICION] = SuspicionDetector(pool)
        app[api.READS] = Reads(StatsReader(pool), app[OFFICIAL], app[ASSOCIATED], app[SUSPICION])
        ingest = Ingest(IngestStore(pool), app[OFFICIAL])
        app[LOOP] = ConsumerLoop(
            bootstrap,
            consumer.GROUP,
            consumer.handlers(ingest),
            app[METRICS],
            partitions_at_once=consumer.PARTITIONS_AT_ONCE,
        )
        yield
        app[SWING].close()

    async def refresh_official(app: web.Application) -> None:
        await app[OFFICIAL].refresh(shanghai_day(utcnow()))

    async def judge_followers(app: web.Application) -> None:
        while True:
            if not await app[SUSPICION].judge_pending():
                await asyncio.sleep(JUDGE_IDLE_S)

    async def forget_old_event_ids(app: web.Application) -> None:
        await seen_events.forget_forever(app[POOL])

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.redis(REDIS, config.common.redis_url, config.common.redis_cluster),
            runtime.kafka_readiness(bootstrap),
            wiring,
            runtime.running("consumer", lambda app: app[LOOP]),
            runtime.every("official-refresh", config.official_refresh_s, refresh_official),
            runtime.running("swing-refresh", lambda app: app[SWING_SCHEDULE]),
            runtime.background("fake-follower-judge", judge_followers),
            runtime.background("event-id-expiry", forget_old_event_ids),
        ]
    )
    return app


def main() -> None:
    config = InsightsConfig.from_env()
    logs.configure("insights", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
