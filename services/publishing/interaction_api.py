"""Publishing HTTP handlers for interactions with posts (API.md "publishing"): comments,
likes and votes."""

from __future__ import annotations

import asyncpg
import msgspec
from aiohttp import web

from services.publishing import new_post, votes_and_buys
from services.publishing.service import InteractionService
from shared.auth import require_actor
from shared.errors import forbidden
from shared.ids import parse_id
from shared.pagination import keyed_page, keyed_page_query
from shared.timeutil import rfc3339
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

INTERACTIONS = web.AppKey("publishing_interactions", InteractionService)


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
    new = await read_body(request, new_post.NewComment)
    row = await request.app[INTERACTIONS].comment(post_id, author, new.text)
    return json_response(comment_of(row), 201)


async def list_comments(request: web.Request) -> web.Response:
    limit, after = keyed_page_query(request.query)
    rows = await request.app[INTERACTIONS].comments(path_id(request, "id"), limit, after)
    page = CommentPage(**keyed_page(rows, limit, "id", comment_of))
    return json_response(page)


async def delete_comment(request: web.Request) -> web.Response:
    post_id, comment_id = path_id(request, "id"), path_id(request, "comment_id")
    await request.app[INTERACTIONS].delete_comment(post_id, comment_id, principal(request))
    return no_content()


async def like(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[INTERACTIONS].like(path_id(request, "id"), user_id, True)
    return no_content()


async def unlike(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    await request.app[INTERACTIONS].like(path_id(request, "id"), user_id, False)
    return no_content()


async def vote(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    require_actor(principal(request), user_id)
    choice = await read_body(request, votes_and_buys.CastVote)
    await request.app[INTERACTIONS].vote(path_id(request, "id"), user_id, choice.option)
    return no_content()


POST_ID = id_param("id")
ROUTES = (
    Route(
        "POST",
        "/v1/posts/{id}/comments",
        add_comment,
        "Comment on a post",
        status=201,
        body=new_post.NewComment,
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
        body=votes_and_buys.CastVote,
        params=(POST_ID, id_param("user_id")),
        errors=(404, 409),
    ),
)
