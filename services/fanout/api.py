"""Fan-out HTTP handlers (API.md "fanout"): feed rebuilds and delivery stats."""

from __future__ import annotations

from aiohttp import web

from services.fanout.consumer import FanoutHandlers
from shared.auth import require_role
from shared.web import Route, id_param, json_response, path_id, principal

HANDLERS = web.AppKey("fanout_handlers", FanoutHandlers)
CONSUMERS = web.AppKey("fanout_consumers", list)


async def rebuild_feed(request: web.Request) -> web.Response:
    require_role(principal(request), "staff", "service")
    user_id = path_id(request, "user_id")
    size = await request.app[HANDLERS].fanout.rebuild(user_id)
    return json_response({"user_id": str(user_id), "entries": size}, 202)


async def stats(request: web.Request) -> web.Response:
    require_role(principal(request), "staff")
    return json_response(
        {
            "consumer_lag": {loop.group: await loop.lag() for loop in request.app[CONSUMERS]},
            "deliveries": request.app[HANDLERS].delivered,
            "pull_threshold": request.app[HANDLERS].fanout.pull_threshold,
            "chunk_size": request.app[HANDLERS].fanout.chunk_size,
        }
    )


ROUTES = (
    Route(
        "POST",
        "/v1/admin/users/{user_id}/feed/rebuild",
        rebuild_feed,
        "Rebuild a feed from the followed accounts' recent posts",
        status=202,
        params=(id_param("user_id"),),
        errors=(400,),
    ),
    Route("GET", "/v1/admin/stats", stats, "Consumer lag per partition and deliveries so far"),
)
