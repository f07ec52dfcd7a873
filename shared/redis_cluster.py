"""Redis helpers shared by fanout and feedread: one client factory for a single Redis or
a Redis Cluster, and scripts run over many users at once.

A script over many users gets their ids as one comma-separated argument and builds
each user's keys itself (`shared.feedstore.keys.lua_key`): the Python client spends
microseconds on every argument it encodes, which, at three keys a follower, held one
fanout process near 70,000 deliveries/s; one joined argument per thousand followers
costs next to nothing.

On a cluster, a script may only touch keys of one node: users are grouped by the node
that serves their slot (all of a user's keys share one hash tag), and scripts carry
Redis 7's `allow-cross-slot-keys` flag, so one call still serves a thousand users living
in different slots of that node.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, SlotNotCoveredError
from redis.typing import EncodableT

AnyRedis = aioredis.Redis | RedisCluster
CROSS_SLOT = "#!lua flags=allow-cross-slot-keys\n"
# Every script over users sees their ids as the last argument; `each_user()` walks them.
PROLOGUE = """
local USERS = ARGV[#ARGV]
local function each_user() return string.gmatch(USERS, '[^,]+') end
"""


class Script:
    """A Lua script called by its SHA1 (EVALSHA): its body crosses the wire and is hashed
    by Redis only when the server does not hold it yet (a new or restarted node answers
    NOSCRIPT, and the call is made again with the body, which also loads it)."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()

    async def __call__(
        self, client: AnyRedis, keys: Sequence[str], args: Sequence[EncodableT]
    ) -> Any:
        """The script's reply for `keys` and `args` (on a cluster, the keys' node)."""
        try:
            return await client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.execute_command("EVAL", self.body, len(keys), *keys, *args)


class BatchedScript:
    """A Script whose calls made in the same pass of the event loop go to Redis as one
    pipeline: under load, many requests reach the same script at once, and one write and
    one read of all their replies cost the client and Redis far less than a command each
    (redis-py does not pipeline across callers itself)."""

    def __init__(self, client: AnyRedis, script: Script) -> None:
        self.client = client
        self.script = script
        self._queued: list[tuple[Sequence[str], Sequence[EncodableT], asyncio.Future[Any]]] = []

    async def __call__(self, keys: Sequence[str], args: Sequence[EncodableT]) -> Any:
        """The script's reply for `keys` and `args`, as Script gives it."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((keys, args, reply))
        if len(self._queued) == 1:  # the first of this pass sends them all, next pass
            asyncio.get_running_loop().call_soon(self._send_queued)
        return await reply

    def _send_queued(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(calls))
        task.add_done_callback(lambda done: done.exception())  # errors went to the callers

    async def _send(
        self, calls: list[tuple[Sequence[str], Sequence[EncodableT], asyncio.Future[Any]]]
    ) -> None:
        try:
            if len(calls) == 1:
                replies = [await self._one(calls[0][0], calls[0][1])]
            else:
                replies = await self._pipelined(calls)
        except BaseException as exc:
            replies = [exc] * len(calls)
        for (_, _, reply), value in zip(calls, replies, strict=True):
            if reply.done():  # its caller went away
                continue
            if isinstance(value, BaseException):
                reply.set_exception(value)
            else:
                reply.set_result(value)

    async def _one(self, keys: Sequence[str], args: Sequence[EncodableT]) -> Any:
        try:
            return await self.script(self.client, keys, args)
        except Exception as exc:  # handed to the caller
            return exc

    async def _pipelined(
        self, calls: list[tuple[Sequence[str], Sequence[EncodableT], asyncio.Future[Any]]]
    ) -> list[Any]:
        sha = self.script.sha
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args, _ in calls:
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
            replies = await pipe.execute(raise_on_error=False)
        # A server that lost its scripts (restarted) loads it with the first EVAL.
        for index, value in enumerate(replies):
            if isinstance(value, NoScriptError):
                replies[index] = await self._one(calls[index][0], calls[index][1])
        return replies


def connect(url: str, cluster: bool) -> AnyRedis:
    """A client for `url`: a Redis Cluster client (discovering the other nodes) if asked."""
    if cluster:
        return RedisCluster.from_url(url, decode_responses=False)
    return aioredis.Redis.from_url(url, decode_responses=False)


def is_cluster(client: AnyRedis) -> bool:
    """Whether `client` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


async def eval_over_users(
    client: AnyRedis,
    script: str,
    users: Sequence[int | str],
    args: Sequence[EncodableT],
    users_per_call: int,
    slot_key: Callable[[int | str], str],
) -> int:
    """Runs `script` (see PROLOGUE; ARGV = `args` then the users) over `users`, at most
    `users_per_call` per call; returns the sum of what the calls returned. `slot_key`
    names a key of a user, whose slot all of that user's keys share."""
    if not users:
        return 0
    body = CROSS_SLOT + PROLOGUE + script
    if isinstance(client, RedisCluster):
        return await _eval_per_node(client, body, args, users, users_per_call, slot_key)
    async with client.pipeline(transaction=False) as pipe:
        for batch in _batches(list(users), users_per_call):
            pipe.execute_command("EVAL", body, 0, *args, ",".join(map(str, batch)))
        return sum(await pipe.execute())


async def _eval_per_node(
    client: RedisCluster,
    body: str,
    args: Sequence[EncodableT],
    users: Sequence[int | str],
    users_per_call: int,
    slot_key: Callable[[int | str], str],
) -> int:
    """eval_over_users on a cluster: each node runs the script over the users it serves."""
    by_node: dict[str, list[int | str]] = defaultdict(list)
    nodes: dict[str, ClusterNode] = {}
    for user in users:
        node = client.get_node_from_key(slot_key(user))
        if node is None:
            raise SlotNotCoveredError(f"no cluster node serves the slot of {slot_key(user)}")
        by_node[node.name].append(user)
        nodes[node.name] = node

    async def on_node(name: str) -> int:
        total = 0
        for batch in _batches(by_node[name], users_per_call):
            total += await client.execute_command(
                "EVAL", body, 0, *args, ",".join(map(str, batch)), target_nodes=nodes[name]
            )
        return total

    return sum(await asyncio.gather(*(on_node(name) for name in by_node)))


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]
