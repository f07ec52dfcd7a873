"""Publishing HTTP handlers for posts (API.md "publishing"): decode, call the use case
(service.py) or a read of the store, encode with the Structs /openapi.json documents.
Comments, likes and votes are in interaction_api.py."""

from __future__ import annotations

import msgspec
from aiohttp import web

from services.publishing import domain, new_post
from services.publishing.ports import PostRow
from services.publishing.service import PostService
from services.publishing.store import PostStore, post_view
from shared.auth import require_actor
from shared.errors import ApiError, DomainError
from shared.ids import IdGenerator
from shared.pagination import keyed_page, keyed_page_query
from shared.posts import PostView
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

STORE = web.AppKey("publishing_store", PostStore)
SERVICE = web.AppKey("publishing_service", PostService)
IDS = web.AppKey("publishing_ids", IdGenerator)

RETRY_SOON = {"Retry-After": "1"}  # a projection catches up within a second or so
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
    domain.NotAGroupBuy: 400,
    domain.GroupBuyClosed: 409,
    domain.CommentNotFound: 404,
    domain.NotAllowed: 403,
}


class Counters(msgspec.Struct):
    likes: int
    comments: int
    votes: int


class Post(PostView, kw_only=True):
    """A post as publishing serves it: as feeds show it, plus its counters."""

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


def post_of(row: PostRow) -> Post:
    """A post row (store.POST_COLUMNS) as the API shows it."""
    return Post(
        **msgspec.structs.asdict(post_view(row)),
        counters=Counters(likes=row["likes"], comments=row["comments"], votes=row["votes"]),
    )


async def publish(request: web.Request) -> web.Response:
    account_id = path_id(request, "account_id")
    require_actor(principal(request), account_id)
    new = await read_body(request, new_post.NewPost)
    try:
        done = await request.app[SERVICE].publish(account_id, new)
    except domain.AuthorNotReady as exc:
        raise ApiError(503, exc.code, exc.message, exc.details, RETRY_SOON) from None
    quota = Quota(used=done.used, limit=done.limit, resets_at=rfc3339(done.resets_at))
    published = PublishedPost(**msgspec.structs.asdict(post_of(done.post)), quota=quota)
    return json_response(published, 201)


async def get_post(request: web.Request) -> web.Response:
    post = await request.app[STORE].post(path_id(request, "id"))
    return json_response(post_of(post))


async def account_posts(request: web.Request) -> web.Response:
    limit, after = keyed_page_query(request.query)
    rows = await request.app[STORE].account_posts(path_id(request, "account_id"), limit, after)
    page = keyed_page(rows, limit, "id", post_of)
    return json_response(PostPage(**page))


async def delete_post(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete(path_id(request, "id"), principal(request))
    return no_content()


ROUTES = (
    Route(
        "POST",
        "/v1/accounts/{account_id}/posts",
        publish,
        "Publish a post",
        status=201,
        body=new_post.NewPost,
        response=PublishedPost,
        params=(id_param("account_id"),),
        errors=(404, 429, 503),
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
