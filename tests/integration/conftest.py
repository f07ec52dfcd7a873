"""Fixtures of the integration tests that drive shared code on the real stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.config import Env


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
