"""Fixtures of the integration tests that drive shared code on the real stack."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.config import Env
from shared.redis_cluster import AnyRedis, connect
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def cluster_url(stack: Env) -> str:
    """A 3-master Redis Cluster beside the stack (started when it is not up)."""
    subprocess.run([sys.executable, str(ROOT / "deploy" / "localstack.py"), "cluster"], check=True)
    return f"redis://127.0.0.1:{stack.int('WEITAO_REDIS_CLUSTER_PORT')}/0"


@pytest.fixture(scope="module", params=["single", "cluster"])
async def feed_redis(request: pytest.FixtureRequest, stack: Env) -> AsyncIterator[AnyRedis]:
    """The stack's Redis, then the cluster: code under test runs against both."""
    if request.param == "cluster":
        client = connect(request.getfixturevalue("cluster_url"), cluster=True)
    else:
        client = connect(stack.str("WEITAO_REDIS_URL"), cluster=False)
    yield client
    await client.aclose()


@pytest.fixture
async def scratch_topic(stack: Env) -> AsyncIterator[str]:
    """A 12-partition topic of the test's own, so no service sees its events."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.str("WEITAO_KAFKA_BOOTSTRAP"))
    await admin.start()
    name = f"weitao.test-scratch-{uuid.uuid4().hex[:8]}"
    await admin.create_topics([NewTopic(name, num_partitions=12, replication_factor=1)])
    try:
        yield name
    finally:
        await admin.delete_topics([name])
        await admin.close()
