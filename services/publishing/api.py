"""Publishing HTTP handlers (API.md "publishing"): decode, call store/domain, encode."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from aiohttp import web

from services.publishing import domain
from services.publishing.interactions import InteractionStore
from services.publishing.publish import Publisher
from services.publishing.store import PostStore, post_view
from shared.auth import require_actor
from shared.errors import DomainError, forbidden
from shared.http import (
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
from shared.ids import IdGenerator, parse_id
from shared.pagination import decode_cursor, page, parse_limit
from shared.timeutil import rfc3339, utcnow

STORE = web.AppKey("publishing_store", PostStore)
INTERACTIONS = web.AppKey("publishing_interactions", InteractionStore)
PUBLISHER = web.AppKey("publishing_publisher", Publisher)
IDS = web.AppKey("publishing_ids", IdGenerator)

ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.InvalidPost: 400,
    domain.AuthorNotFound: 404,
    domain.NotAnOperator: 403,
    domain.AccountSuspended: 403,
    domain.DailyQuotaExceeded: 429,
    domain.PostNotFound: 404,
    domain.DuplicateContent: 409,
    domain.NotAVote: 400,
    domain.VoteClosed: 409,
    domain.CommentNotFound: 404,
    domain.NotAllowed: 403,
}


class Counters(msgspec.Struct):
    likes: int
    comments: int
    votes: int


class Post(msgspec.Struct):
    id: str
    account_id: str
    kind: str
    title: str
    body: str
    category: str
    images: list[str]
    products: list[domain.Product] | None
    discount: domain.Discount | None
    vote: domain.Vote | None
    video: domain.Video | None
    created_at: str
    counters: Counters


class Quota(msgspec.Struct):
    used: int
    limit: int
    resets_at: str


class PublishedPost(Post):
    quota: Quota


class PostPage(msgspec.Struct):
    items: list[Post]
    next_cursor: str | None


class Comment(msgspec.Struct):
    id: str
    post_id: str
    author_id: str
    text: str
    created_at: str


class CommentPage(msgspec.Struct):
    items: list[Comment]
    next_cursor: str | None


def post_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        **post_view(row),
        "counters": {
            "likes": row["likes"],
            "comments": row["comments"],
            "votes": row["votes"],
        },
    }


async def publish(request: web.Request) -> web.Response:
    account_id = path_id(request, "account_id")
    require_actor(principal(request), account_id)
    new = await read_body(request, domain.NewPost)
    now = utcnow()
    publisher = request.app[PUBLISHER]
    row, used = await publisher.publish(account_id, new, now)
    quota = {
        "used": used,
        "limit": publisher.daily_limit,
        "resets_at": rfc3339(domain.quota_resets_at(now)),
    }
    return json_response({**post_json(row), "quota": quota}, 201)


async def get_post(request: web.Request) -> web.Response:
    return json_response(post_json(await request.app[STORE].post(path_id(request, "id"))))


async def account_posts(request: web.Request) -> web.Response:
    limit = parse_limit(request.query)
    cursor = decode_cursor(request.query, 1)
    rows = await request.app[STORE].account_posts(
        path_id(request, "account_id"), limit, cursor[0] if cursor else None
    )
    next_position = [rows[-1]["id"]] if len(rows) == limit else None
    return json_response(page([post_json(r) for r in rows], next_position))


async def delete_post(request: web.Request) -> web.Response:
    post_id = path_id(request, "id")
    store = request.app[STORE]
    require_actor(principal(request), await store.author_id(post_id), staff_too=True)
    await store.delete(post_id, utcnow())
    return no_content()


def comment_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "post_id": str(row["post_id"]),
        "author_id": str(row["author_id"]),
        "text": row["text"],
        "created_at": rfc3339(row["created_at"]),
    }


def caller_account(request: web.Request) -> int:
    """The account a comment is written as: the token's subject."""
    account_id = parse_id(principal(request).sub)
    if account_id is None:
        raise forbidden("the token's subject is not an account")
    return account_id


async def add_comment(request: web.Request) -> web.Response:
    post_id = path_id(request, "id")
    new = await read_body(request, domain.NewComment)
    row = await request.app[INTERACTIONS].add_comment(
        request.app[IDS].next_id(), post_id, caller_account(request), new.text, utcnow()
    )
    return json_response(comment_json(row), 201)


async def list_comments(request: web.Request) -> web.Response:
    limit = parse_limit(request.query)
    cursor = decode_cursor(request.query, 1)
    rows = await request.app[INTERACTIONS].comments(
        path_id(request, "id"), limit, cursor[0] if cursor else None
    )
    next_position = [rows[-1]["id"]] if len(rows) == limit else None
    return json_response(page([comment_json(r) for r in rows], next_position))


async def delete_comment(request: web.Request) -> web.Response:
    caller = principal(request)
    acting = {parse_id(caller.sub)} - {None}
    await request.app[INTERACTIONS].delete_comment(
        path_id(request, "id"),
        path_id(request, "comment_id"),
        acting,  # type: ignore[arg-type]
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
        "/v1/accounts/{account_id}/posts",
        publish,
        "Publish a post",
        status=201,
        body=domain.NewPost,
        response=PublishedPost,
        params=(id_param("account_id"),),
        errors=(404, 429),
    ),
    Route(
        "GET",
        "/v1/accounts/{account_id}/posts",
        account_posts,
        "An account's posts, newest first",
        response=PostPage,
        params=(id_param("account_id"), LIMIT, CURSOR),
        errors=(400,),
    ),
    Route(
        "GET",
        "/v1/posts/{id}",
        get_post,
        "A post with its counters",
        response=Post,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/v1/posts/{id}",
        delete_post,
        "Delete a post",
        status=204,
        params=(id_param("id"),),
        errors=(400, 404),
    ),
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
