"""Publishing HTTP handlers for interactions with posts (API.md "publishing"): comments,
likes and votes."""

from __future__ import annotations

import asyncpg
import msgspec
from aiohttp import web

from services.publishing import domain
from services.publishing.api import IDS
from services.publishing.interactions import InteractionStore
from shared.auth import require_actor
from shared.errors import forbidden
from shared.ids import parse_id
from shared.pagination import keyed_page, keyed_page_query
from shared.timeutil import rfc3339, utcnow
from shared.web import (
    CURSOR,
    LIMIT,
    Route,
    id_param,
    json_response,
    no_content,
    path_id,
    principal,
    read_body,
)

INTERACTIONS = web.AppKey("publishing_interactions", InteractionStore)


class Comment(msgspec.Struct):
    id: str
    post_id: str
    author_id: str
    text: str
    created_at: str


class CommentPage(msgspec.Struct):
    items: list[Comment]
    next_cursor: str | None


def comment_of(row: asyncpg.Record) -> Comment:
    """A comment row as the API shows it."""
    return Comment(
        id=str(row["id"]),
        post_id=str(row["post_id"]),
        author_id=str(row["author_id"]),
        text=row["text"],
        created_at=rfc3339(row["created_at"]),
    )


def caller_account(request: web.Request) -> int:
    """The account a comment is written as: the token's subject."""
    account_id = parse_id(principal(request).sub)
    if account_id is None:
        raise forbidden("the token's subject is not an account")
    return account_id


async def add_comment(request: web.Request) -> web.Response:
    author = caller_account(request)  # who may comment comes before what was sent (403, 400)
    post_id = path_id(request, "id")
    new = await read_body(request, domain.NewComment)
    row = await request.app[INTERACTIONS].add_comment(
        request.app[IDS].next_id(), post_id, author, new.text, utcnow()
    )
    return json_response(msgspec.to_builtins(comment_of(row)), 201)


async def list_comments(request: web.Request) -> web.Response:
    limit, after = keyed_page_query(request.query)
    rows = await request.app[INTERACTIONS].comments(path_id(request, "id"), limit, after)
    page = CommentPage(**keyed_page(rows, limit, "id", comment_of))
    return json_response(msgspec.to_builtins(page))


async def delete_comment(request: web.Request) -> web.Response:
    caller = principal(request)
    caller_id = parse_id(caller.sub)  # None for a service or staff token's subject
    acting = {caller_id} if caller_id is not None else set()
    await request.app[INTERACTIONS].delete_comment(
        path_id(request, "id"),
        path_id(request, "comment_id"),
        acting,
        caller.is_staff() or caller.role == "service",
        utcnow(),
    )
    return no_content()


async def like(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[INTERACTIONS].set_like(path_id(request, "id"), user_id, True, utcnow())
    return no_content()


async def unlike(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[INTERACTIONS].set_like(path_id(request, "id"), user_id, False, utcnow())
    return no_content()


async def vote(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    choice = await read_body(request, domain.CastVote)
    await request.app[INTERACTIONS].vote(path_id(request, "id"), user_id, choice.option, utcnow())
    return no_content()


POST_ID = id_param("id")
ROUTES = (
    Route(
        "POST",
        "/v1/posts/{id}/comments",
        add_comment,
        "Comment on a post",
        status=201,
        body=domain.NewComment,
        response=Comment,
        params=(POST_ID,),
        errors=(404,),
    ),
    Route(
        "GET",
        "/v1/posts/{id}/comments",
        list_comments,
        "A post's comments, oldest first",
        response=CommentPage,
        params=(POST_ID, LIMIT, CURSOR),
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/v1/posts/{id}/comments/{comment_id}",
        delete_comment,
        "Delete a comment (its author or the post's owner)",
        status=204,
        params=(POST_ID, id_param("comment_id")),
        errors=(400, 404),
    ),
    Route(
        "PUT",
        "/v1/posts/{id}/likes/{user_id}",
        like,
        "Like (idempotent)",
        status=204,
        params=(POST_ID, id_param("user_id")),
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/v1/posts/{id}/likes/{user_id}",
        unlike,
        "Unlike (idempotent)",
        status=204,
        params=(POST_ID, id_param("user_id")),
        errors=(400, 404),
    ),
    Route(
        "PUT",
        "/v1/posts/{id}/votes/{user_id}",
        vote,
        "Vote (one per user, movable)",
        status=204,
        body=domain.CastVote,
        params=(POST_ID, id_param("user_id")),
        errors=(404, 409),
    ),
)
