"""Redis helpers shared by fanout and feedread: one client factory for a single Redis or
a Redis Cluster, and scripts run over many users' keys at once.

On a cluster, a script may only touch keys of one node: keys are grouped by the node
that serves their slot, and the script carries Redis 7's `allow-cross-slot-keys` flag,
so one call still serves a thousand followers living in different slots of that node.
Redis 7.0 still refuses declared KEYS of several slots, so on a cluster the keys travel
in ARGV (count first); the prologue gives every script the same `K` (keys) and `A`
(arguments) either way.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

AnyRedis = aioredis.Redis | RedisCluster
CROSS_SLOT = "#!lua flags=allow-cross-slot-keys\n"
PROLOGUE = """
local K, A = KEYS, ARGV
if #KEYS == 0 then
  K, A = {}, {}
  local n = tonumber(ARGV[1])
  for i = 2, n + 1 do K[#K + 1] = ARGV[i] end
  for i = n + 2, #ARGV do A[#A + 1] = ARGV[i] end
end
"""


def connect(url: str, cluster: bool) -> AnyRedis:
    """A client for `url`: a Redis Cluster client (discovering the other nodes) if asked."""
    if cluster:
        return RedisCluster.from_url(url, decode_responses=False)
    return aioredis.Redis.from_url(url, decode_responses=False)


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


async def eval_over_users(
    client: AnyRedis,
    script: str,
    key_groups: Sequence[Sequence[str]],
    args: Sequence[str | int],
    users_per_call: int,
) -> int:
    """Runs `script` (written against `K` and `A`, see PROLOGUE) over the users' key
    groups (each group in one slot), at most `users_per_call` groups per call; returns
    the sum of what the calls returned."""
    if not key_groups:
        return 0
    body = CROSS_SLOT + PROLOGUE + script
    if not is_cluster(client):
        async with client.pipeline(transaction=False) as pipe:
            for batch in _batches(list(key_groups), users_per_call):
                keys = [k for group in batch for k in group]
                pipe.eval(body, len(keys), *keys, *args)
            return sum(await pipe.execute())
    by_node: dict[str, list[Sequence[str]]] = defaultdict(list)
    nodes = {}
    for group in key_groups:
        node = client.get_node_from_key(group[0])
        by_node[node.name].append(group)
        nodes[node.name] = node

    async def on_node(name: str) -> int:
        total = 0
        for batch in _batches(by_node[name], users_per_call):
            keys = [k for group in batch for k in group]
            total += await client.execute_command(
                "EVAL", body, 0, len(keys), *keys, *args, target_nodes=nodes[name]
            )
        return total

    return sum(await asyncio.gather(*(on_node(name) for name in by_node)))


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
