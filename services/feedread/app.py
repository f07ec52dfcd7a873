"""Feedread wiring: config, Redis (projections and feeds), the consumer, an event producer,
and the use cases (services.feedread.service) on them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka import AIOKafkaProducer

from services.feedread import api, consumer
from services.feedread.config import FeedreadConfig
from services.feedread.engagement import EngagementStore
from services.feedread.impressions import ServedPages
from services.feedread.producer import KafkaEvents
from services.feedread.service import Feedread
from services.feedread.store import FeedStore
from shared import logs, runtime
from shared.kafka import ConsumerLoop, event_producer, producer, start_with_retry
from shared.redis_cluster import AnyRedis
from shared.web import METRICS, build_app

REDIS: web.AppKey[AnyRedis] = web.AppKey("feedread_redis")
STORE = web.AppKey("feedread_store", FeedStore)
PRODUCER = web.AppKey("feedread_producer", AIOKafkaProducer)


def create_app(config: FeedreadConfig) -> web.Application:
    app = build_app("Weitao feedread", config.common.jwt_secret, api.ROUTES)
    bootstrap = config.common.kafka_bootstrap

    async def wiring(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = FeedStore(app[REDIS], config.inactive_days * 24 * 3600)
        app[PRODUCER] = event_producer(bootstrap)
        app[api.READER] = Feedread(
            app[STORE], EngagementStore(app[REDIS]), KafkaEvents(app[PRODUCER])
        )
        app[api.SERVED_PAGES] = ServedPages(producer(bootstrap), app[METRICS])
        yield
        await app[PRODUCER].stop()

    async def start_producer(app: web.Application) -> None:
        await start_with_retry(app[PRODUCER], "feedread-events")

    async def send_served_pages(app: web.Application) -> None:
        await app[api.SERVED_PAGES].run()

    async def consume(app: web.Application) -> None:
        await ConsumerLoop(
            bootstrap, consumer.GROUP, consumer.handlers(app[STORE]), app[METRICS]
        ).run()

    app.cleanup_ctx.extend(
        [
            runtime.redis(REDIS, config.common.redis_url, config.common.redis_cluster),
            runtime.kafka_readiness(bootstrap),
            wiring,
            runtime.background("event-producer", start_producer),
            runtime.background("served-pages", send_served_pages),
            runtime.background("consumer", consume),
        ]
    )
    return app


def main() -> None:
    config = FeedreadConfig.from_env()
    logs.configure("feedread", config.common.log_level)
    with contextlib.suppress(ImportError):  # uvloop: a faster event loop (docs/benchmarks.md)
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    runtime.serve(create_app(config), config.common.host, config.port)
