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
from typing import Any, ClassVar

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


# The arguments of one `execute_command` call: a command and its arguments.
Command = tuple[EncodableT, ...]


class Script:
    """A Lua script called by its SHA1 (EVALSHA, through AutoPipeline): its body crosses
    the wire and is hashed by Redis only when the server does not hold it yet (a new or
    restarted node answers NOSCRIPT, and the call is made again with the body, which also
    loads it)."""

    _bodies: ClassVar[dict[str, str]] = {}  # SHA1 -> body of every Script made

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()
        Script._bodies[self.sha] = body

    def command(self, keys: Sequence[str], args: Sequence[EncodableT]) -> Command:
        """The EVALSHA of the script for `keys` and `args`."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


async def _executed(client: AnyRedis, command: Command) -> Any:
    """`command`'s reply; an EVALSHA of a Script the server lacks is made again as EVAL."""
    try:
        return await client.execute_command(*command)
    except NoScriptError:
        return await client.execute_command("EVAL", Script._bodies[str(command[1])], *command[2:])


class AutoPipeline:
    """Commands of many callers made in the same pass of the event loop go to Redis as one
    pipeline: under load, many requests want their reads at once, and one write and one
    read of all their replies cost the client and Redis far less than a round trip each
    (redis-py does not pipeline across callers itself). Callers' commands must not depend
    on one another's effects: a script a node had lost runs again after the batch."""

    def __init__(self, client: AnyRedis) -> None:
        self.client = client
        self._queued: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, commands: Sequence[Command]) -> list[Any]:
        """Each command's reply, in order (EVALSHA of Scripts as Script runs them); the
        first error among them is raised."""
        replies: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queued.append((commands, replies))
        if len(self._queued) == 1:  # the first of this pass sends them all, next pass
            asyncio.get_running_loop().call_soon(self._send_queued)
        return await replies

    def _send_queued(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.ensure_future(self._send(calls))
        self._sending.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled():
            task.exception()  # marked seen: its errors went to the callers

    async def _send(self, calls: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]]) -> None:
        commands = [command for wanted, _ in calls for command in wanted]
        try:
            replies = await self._replies(commands)
        except BaseException as exc:
            replies = [exc] * len(commands)
        start = 0
        for wanted, reply in calls:
            mine, start = replies[start : start + len(wanted)], start + len(wanted)
            if reply.done():  # its caller went away
                continue
            error = next((r for r in mine if isinstance(r, BaseException)), None)
            if error is not None:
                reply.set_exception(error)
            else:
                reply.set_result(mine)

    async def _replies(self, commands: list[Command]) -> list[Any]:
        if len(commands) == 1:
            try:
                return [await _executed(self.client, commands[0])]
            except Exception as exc:  # handed to its caller
                return [exc]
        async with self.client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies = await pipe.execute(raise_on_error=False)
        # A server that lost its scripts (restarted) loads each with its first EVAL.
        for index, value in enumerate(replies):
            if isinstance(value, NoScriptError):
                try:
                    replies[index] = await _executed(self.client, commands[index])
                except Exception as exc:
                    replies[index] = exc
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
