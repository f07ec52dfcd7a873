"""Publishing HTTP handlers for posts (API.md "publishing"): decode, call store/domain,
encode. Comments, likes and votes are in interaction_api.py."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from aiohttp import web

from services.publishing import domain
from services.publishing.publish import Publisher
from services.publishing.store import PostStore, post_view
from shared.auth import require_actor
from shared.errors import DomainError
from shared.ids import IdGenerator
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

STORE = web.AppKey("publishing_store", PostStore)
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
    limit, after = keyed_page_query(request.query)
    rows = await request.app[STORE].account_posts(path_id(request, "account_id"), limit, after)
    return json_response(keyed_page(rows, limit, "id", post_json))


async def delete_post(request: web.Request) -> web.Response:
    post_id = path_id(request, "id")
    store = request.app[STORE]
    require_actor(principal(request), await store.author_id(post_id), staff_too=True)
    await store.delete(post_id, utcnow())
    return no_content()


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
)
