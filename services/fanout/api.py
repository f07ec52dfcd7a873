"""Fan-out HTTP handlers (API.md "fanout"): feed rebuilds and delivery stats."""

from __future__ import annotations

import msgspec
from aiohttp import web

from services.fanout.consumer import FanoutHandlers
from shared.auth import require_role
from shared.ids import Id
from shared.web import Route, id_param, json_response, path_id, principal

HANDLERS = web.AppKey("fanout_handlers", FanoutHandlers)
CONSUMERS = web.AppKey("fanout_consumers", list)


class RebuildDone(msgspec.Struct):
    user_id: Id
    entries: int  # posts merged into the feed


class Stats(msgspec.Struct):
    consumer_lag: dict[str, dict[str, int]]  # group -> "topic/partition" -> records behind
    deliveries: int
    pull_threshold: int
    chunk_size: int


async def rebuild_feed(request: web.Request) -> web.Response:
    require_role(principal(request), "staff", "service")
    user_id = path_id(request, "user_id")
    size = await request.app[HANDLERS].fanout.rebuild(user_id)
    return json_response(RebuildDone(user_id=str(user_id), entries=size), 202)


async def stats(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    fanout = request.app[HANDLERS].fanout
    stats = Stats(
        consumer_lag={loop.group: await loop.lag() for loop in request.app[CONSUMERS]},
        deliveries=request.app[HANDLERS].delivered,
        pull_threshold=fanout.pull_threshold,
        chunk_size=fanout.chunk_size,
    )
    return json_response(stats)


ROUTES = (
    Route(
        "POST",
        "/v1/admin/users/{user_id}/feed/rebuild",
        rebuild_feed,
        "Rebuild a feed from the followed accounts' recent posts",
        status=202,
        response=RebuildDone,
        params=(id_param("user_id"),),
        errors=(400,),
    ),
    Route(
        "GET",
        "/v1/admin/stats",
        stats,
        "Consumer lag per partition and deliveries so far",
        response=Stats,
    ),
)
