"""Publishing HTTP handlers for group buys (API.md "publishing"): join and leave."""

from __future__ import annotations

from aiohttp import web

from services.publishing.group_buys import GroupBuyService
from shared.auth import require_actor
from shared.web import Route, id_param, no_content, path_id, principal

GROUP_BUYS = web.AppKey("publishing_group_buys", GroupBuyService)


async def join(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[GROUP_BUYS].join(path_id(request, "id"), user_id)
    return no_content()


async def leave(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[GROUP_BUYS].leave(path_id(request, "id"), user_id)
    return no_content()


PARTICIPANT = (id_param("id"), id_param("user_id"))
ROUTES = (
    Route(
        "PUT",
        "/v1/posts/{id}/group-buy/participants/{user_id}",
        join,
        "Join a group buy (idempotent)",
        status=204,
        params=PARTICIPANT,
        errors=(400, 404, 409),
    ),
    Route(
        "DELETE",
        "/v1/posts/{id}/group-buy/participants/{user_id}",
        leave,
        "Leave a group buy while it is open",
        status=204,
        params=PARTICIPANT,
        errors=(400, 404, 409),
    ),
)
