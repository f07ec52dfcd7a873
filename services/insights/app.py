"""Insights wiring. For now the process runs with its ops endpoints and dependency checks;
the statistics and recommendation endpoints of API.md arrive with their own issue."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.insights.config import InsightsConfig
from shared import db, logs, runtime
from shared.http import add_readiness_check, build_app

POOL = web.AppKey("insights_pool", asyncpg.Pool)


def create_app(config: InsightsConfig) -> web.Application:
    app = build_app("Weitao insights", config.common.jwt_secret, ())

    async def postgres(app: web.Application):
        pool = await db.create_pool(config.common.postgres_dsn, "insights", max_size=2)
        app[POOL] = pool
        add_readiness_check(app, "postgres", lambda: pool.fetchval("SELECT 1"))
        yield
        await pool.close()

    app.cleanup_ctx.extend([postgres, runtime.kafka_readiness(config.common.kafka_bootstrap)])
    return app


def main() -> None:
    config = InsightsConfig.from_env()
    logs.configure("insights", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
