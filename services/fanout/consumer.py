"""Fan-out's Kafka handlers: posts into followers' feeds, follows into its projection.

Every handler is idempotent: feeds hold (post id, publish time) pairs, so adding one
twice or removing one twice leaves the same feed, and the projection keeps only the
newest version of each follow.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from services.fanout.domain import BACKFILL_POSTS, PUSH_CHUNK
from services.fanout.store import FanoutStore
from shared.events import AccountChanged, Contract, FollowChanged, PostDeleted, PostPublished
from shared.kafka import EventHandler

GROUP = "fanout"


class FanoutHandlers:
    def __init__(self, store: FanoutStore, registry: CollectorRegistry) -> None:
        self.store = store
        self._deliveries = Counter(
            "fanout_deliveries", "Posts written into followers' feeds", registry=registry
        )
        self.delivered = 0  # the same count, for /v1/admin/stats

    def table(self) -> dict[type[Contract], EventHandler]:
        return {  # type: ignore[dict-item]
            PostPublished: self.on_post_published,
            PostDeleted: self.on_post_deleted,
            FollowChanged: self.on_follow_changed,
            AccountChanged: self.on_account_changed,
        }

    async def on_post_published(self, event: PostPublished) -> None:
        post_id, account_id = int(event.post_id), int(event.account_id)
        if await self.store.is_deleted(post_id):
            return  # a redelivered publish of a post deleted since
        await self.store.add_to_timeline(account_id, post_id, event.published_ms)
        if await self.store.is_suspended(account_id):
            return
        async for users in self.store.follower_chunks(account_id, PUSH_CHUNK):
            written = await self.store.push(post_id, event.published_ms, users)
            self._deliveries.inc(written)
            self.delivered += written

    async def on_post_deleted(self, event: PostDeleted) -> None:
        post_id, account_id = int(event.post_id), int(event.account_id)
        await self.store.mark_deleted(post_id)
        await self.store.remove_from_timeline(account_id, post_id)
        async for users in self.store.follower_chunks(account_id, PUSH_CHUNK):
            await self.store.remove([event.post_id], users)

    async def on_follow_changed(self, event: FollowChanged) -> None:
        if not await self.store.apply_follow(event):
            return  # stale or repeated
        account_id, user_id = int(event.account_id), int(event.user_id)
        if event.following:
            if not await self.store.is_suspended(account_id):
                entries = await self.store.timeline(account_id, BACKFILL_POSTS)
                await self.store.backfill(user_id, entries)
        else:
            entries = await self.store.timeline(account_id, self.store.feed_cap)
            await self.store.remove([member for member, _ in entries], [user_id])

    async def on_account_changed(self, event: AccountChanged) -> None:
        if not await self.store.apply_account(event):
            return
        account_id = int(event.account_id)
        entries = await self.store.timeline(account_id, self.store.feed_cap)
        async for users in self.store.follower_chunks(account_id, PUSH_CHUNK):
            if event.status == "suspended":
                await self.store.remove([member for member, _ in entries], users)
            else:
                for user_id in users:
                    await self.store.backfill(user_id, entries[:BACKFILL_POSTS])

    async def rebuild(self, user_id: int) -> int:
        """Rebuilds one feed from the followed accounts' timelines; returns its size."""
        entries = []
        for account_id in await self.store.followed_accounts(user_id):
            if not await self.store.is_suspended(account_id):
                entries.extend(await self.store.timeline(account_id, self.store.feed_cap))
        await self.store.replace_feed(user_id, entries)
        return min(len(entries), self.store.feed_cap)
