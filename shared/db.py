"""Postgres: a pool per service, confined to the service's own schema, and its migrations."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import orjson

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind,
            schema="pg_catalog",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )


async def create_pool(dsn: str, schema: str, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see only `schema` (the service's own tables)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": f"weitao-{schema}"},
    )
    assert pool is not None
    return pool


def read_migrations(folder: Path) -> list[tuple[str, str]]:
    """(file name, SQL) of each numbered migration, in order."""
    return [(path.name, path.read_text()) for path in sorted(folder.glob("*.sql"))]


async def migrate(dsn: str, schema: str, folder: Path) -> list[str]:
    """Applies `folder/NNN_*.sql` not yet recorded in `schema.schema_migrations`, in order.

    An advisory lock makes concurrent starters of one service wait for each other.
    """
    migrations = read_migrations(folder)
    conn = await asyncpg.connect(dsn)
    applied_now = []
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for name, sql in migrations:
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)
            applied_now.append(name)
            log.info("migration applied", extra={"schema": schema, "migration": name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
        await conn.close()
    return applied_now
