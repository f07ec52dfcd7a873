"""Insights' Redis on a Redis Cluster (where MULTI is not available to the client): a
category's official ranking is swapped in whole by one script, and read back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from services.insights.official import DETAIL, RANK_ALL, SWAP_CATEGORY, OfficialRanking, rank_key
from shared.redis_cluster import AnyRedis, connect


@pytest.fixture
async def cluster(cluster_url) -> AsyncIterator[AnyRedis]:
    """No insights runs against the cluster: its insights keys are the test's."""
    client = connect(cluster_url, True)
    await client.delete(rank_key("food"), rank_key("home"), RANK_ALL, DETAIL)
    yield client
    await client.delete(rank_key("food"), rank_key("home"), RANK_ALL, DETAIL)
    await client.aclose()


def entries(*scored: tuple[str, float]) -> list:
    flat: list = []
    for account, score in scored:
        flat.extend((account, score, orjson.dumps({"account": {"id": account}, "score": score})))
    return flat


async def swap(redis: AnyRedis, category: str, *scored: tuple[str, float]) -> None:
    await redis.eval(SWAP_CATEGORY, 3, rank_key(category), RANK_ALL, DETAIL, *entries(*scored))


def ids(items: list) -> list[str]:
    return [i["account"]["id"] for i in items]


async def test_a_category_ranking_is_swapped_whole_and_read_back_on_a_cluster(cluster):
    ranking = OfficialRanking(None, cluster, window_days=3)  # type: ignore[arg-type]
    await swap(cluster, "food", ("1", 0.9), ("2", 0.5))
    await swap(cluster, "home", ("3", 0.7))
    assert ids(await ranking.top("food", 10)) == ["1", "2"]
    assert ids(await ranking.top(None, 10)) == ["1", "3", "2"]

    await swap(cluster, "food", ("2", 0.95))  # account 1 is no longer listed
    assert ids(await ranking.top("food", 10)) == ["2"]
    assert ids(await ranking.top(None, 10)) == ["2", "3"]
    assert await cluster.hget(DETAIL, "1") is None
