"""Accounts wiring: config, Postgres (own schema), the outbox relay, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.accounts import api, bulk_api, follow_api
from services.accounts.config import AccountsConfig
from services.accounts.follow_store import FollowStore
from services.accounts.service import AccountService
from services.accounts.store import SCHEMA, AccountStore
from shared import logs, runtime
from shared.outbox import OutboxRelay
from shared.timeutil import utcnow
from shared.web import METRICS, build_app

POOL = web.AppKey("accounts_pool", asyncpg.Pool)


def create_app(config: AccountsConfig) -> web.Application:
    app = build_app(
        "Weitao accounts",
        config.common.jwt_secret,
        api.ROUTES + follow_api.ROUTES + bulk_api.ROUTES,
        api.ERROR_STATUSES,
    )
    app[api.CONFIG] = config

    async def store(app: web.Application) -> AsyncIterator[None]:
        app[api.STORE] = AccountStore(app[POOL])
        app[api.FOLLOWS] = FollowStore(app[POOL])
        app[api.SERVICE] = AccountService(
            app[api.STORE], app[api.FOLLOWS], app[api.IDS], config.following_limit, utcnow
        )
        yield

    def relay(app: web.Application) -> OutboxRelay:
        return OutboxRelay(app[POOL], SCHEMA, config.common.kafka_bootstrap, app[METRICS])

    app.cleanup_ctx.extend(
        [
            runtime.postgres(
                POOL, config.common.postgres_dsn, SCHEMA, Path(__file__).parent / "migrations"
            ),
            runtime.kafka_readiness(config.common.kafka_bootstrap),
            runtime.id_worker(api.IDS, config.common.postgres_dsn),
            store,
            runtime.running("outbox-relay", relay),
        ]
    )
    return app


def main() -> None:
    config = AccountsConfig.from_env()
    logs.configure("accounts", config.common.log_level)
    runtime.serve(create_app(config), config.common.host, config.port)
