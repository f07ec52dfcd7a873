"""Feedread's Redis: its post, account and following projections, and feed pages.

The feed sorted sets are written by fanout; feedread only reads them. Everything a page
shows is hydrated from feedread's own projections, built from events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from services.feedread.domain import (
    MAX_SCAN_ROUNDS,
    SCAN_BATCH,
    TOMBSTONE,
    Position,
    comes_after,
    visible,
)
from shared.events import AccountChanged, FollowChanged, PostDeleted, PostPublished
from shared.feedkeys import account_key, feed_key, following_key, post_key

# A deleted post's tombstone outlives any redelivery of its publish event (topic retention
# is 7 days), so a replayed post.published cannot bring the post back.
TOMBSTONE_TTL_S = 30 * 24 * 3600

# Keeps the highest version of a (user, account) follow: ARGV = account, version, sign.
_APPLY_FOLLOW = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and math.abs(tonumber(current)) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], tonumber(ARGV[2]) * tonumber(ARGV[3]))
return 1
"""

# Keeps the highest version of an account: ARGV = version, JSON.
_APPLY_ACCOUNT = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class FeedItem:
    position: Position
    post: dict[str, Any]
    account: dict[str, Any]


class FeedStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._apply_follow = redis.register_script(_APPLY_FOLLOW)
        self._apply_account = redis.register_script(_APPLY_ACCOUNT)

    # ------------------------------------------------------------ projections

    async def apply_account(self, event: AccountChanged) -> None:
        summary = {
            "id": event.account_id,
            "handle": event.handle,
            "kind": event.kind,
            "display_name": event.display_name,
            "category": event.category,
            "status": event.status,
        }
        await self._apply_account(
            keys=[account_key(event.account_id)], args=[event.version, orjson.dumps(summary)]
        )

    async def apply_follow(self, event: FollowChanged) -> None:
        await self._apply_follow(
            keys=[following_key(event.user_id)],
            args=[event.account_id, event.version, 1 if event.following else -1],
        )

    async def apply_post_published(self, event: PostPublished) -> None:
        # NX: never overwrite a tombstone with a redelivered publish.
        await self.redis.set(post_key(event.post_id), orjson.dumps(event.post), nx=True)

    async def apply_post_deleted(self, event: PostDeleted) -> None:
        await self.redis.set(post_key(event.post_id), TOMBSTONE, ex=TOMBSTONE_TTL_S)

    # ------------------------------------------------------------ pages

    async def page(
        self, user_id: int, limit: int, cursor: Position | None, category: str | None
    ) -> tuple[list[FeedItem], Position | None]:
        """Up to `limit` visible items after `cursor`, and the position to continue from
        (None when the feed is exhausted)."""
        items: list[FeedItem] = []
        following: dict[bytes, bytes] | None = None
        accounts: dict[str, dict[str, Any] | None] = {}
        max_score: float | str = cursor.score if cursor else "+inf"
        offset = 0
        last_scanned = cursor
        for _ in range(MAX_SCAN_ROUNDS):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrange(
                    feed_key(user_id),
                    max_score,
                    "-inf",
                    desc=True,
                    byscore=True,
                    offset=offset,
                    num=SCAN_BATCH,
                    withscores=True,
                )
                if following is None:
                    pipe.hgetall(following_key(user_id))
                results = await pipe.execute()
            raw: list[tuple[bytes, float]] = results[0]
            if following is None:
                following = results[1]
            entries = [(m, int(s)) for m, s in raw if comes_after(m, s, cursor)]
            posts = await self._posts([m for m, _ in entries])
            await self._load_accounts(accounts, posts)
            for (member, score), post in zip(entries, posts, strict=True):
                last_scanned = Position(score, int(member))
                account = accounts.get(post["account_id"]) if post else None
                version = int(following.get(post["account_id"].encode(), 0)) if post else 0
                if visible(post, account, version, category):
                    assert post is not None and account is not None
                    items.append(FeedItem(last_scanned, post, account))
                    if len(items) == limit:
                        return items, last_scanned
            if len(raw) < SCAN_BATCH:
                return items, None
            offset += len(raw)
        # Scanned enough for one request: hand back a cursor that resumes past the scan.
        return items, last_scanned

    async def _posts(self, members: list[bytes]) -> list[dict[str, Any] | None]:
        if not members:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in members:
                pipe.get(post_key(member.decode()))
            raw = await pipe.execute()
        return [orjson.loads(v) if v and v != TOMBSTONE else None for v in raw]

    async def _load_accounts(
        self, accounts: dict[str, dict[str, Any] | None], posts: list[dict[str, Any] | None]
    ) -> None:
        missing = sorted({p["account_id"] for p in posts if p} - accounts.keys())
        if not missing:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for account_id in missing:
                pipe.hget(account_key(account_id), "j")
            raw = await pipe.execute()
        for account_id, value in zip(missing, raw, strict=True):
            accounts[account_id] = orjson.loads(value) if value else None
