"""Fixtures shared by the tiers. Unit tests need none of them; integration and e2e tests
get the real stack (started here when it is not up) through `stack` and `api`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bench.client import WeitaoClient
from shared.config import Env
from shared.redis_cluster import AnyRedis, connect

ROOT = Path(__file__).resolve().parent.parent
# The suite is local development (the Makefile says so too): services it starts may use
# the documented development JWT secret.
os.environ.setdefault("WEITAO_ENV", "local")


@pytest.fixture(scope="session")
def env() -> Env:
    return Env.from_os()


@pytest.fixture(scope="session")
def stack(env: Env) -> Env:
    """Starts Kafka, Postgres, Redis and the services unless they already answer."""
    subprocess.run([sys.executable, str(ROOT / "deploy" / "localstack.py"), "up"], check=True)
    return env


@pytest.fixture(scope="session")
async def api(stack: Env) -> AsyncIterator[WeitaoClient]:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield WeitaoClient(
            session, WeitaoClient.urls_from_env(stack), stack.str("WEITAO_JWT_SECRET")
        )


@pytest.fixture(scope="session")
async def redis(stack: Env) -> AsyncIterator[AnyRedis]:
    """The feed keyspace, for tests that check what fanout materialized."""
    client = connect(stack.str("WEITAO_REDIS_URL"), stack.bool("WEITAO_REDIS_CLUSTER"))
    yield client
    await client.aclose()
