"""Fan-out's Kafka handlers: posts into followers' feeds, follows into its projection.

Every handler is idempotent: feeds hold (post id, publish time) pairs, so adding one
twice or removing one twice leaves the same feed, and the projection keeps only the
newest version of each follow.

Write path (hybrid push/pull): an account below the pull threshold has each post pushed
to its active followers' feeds — inline for a few thousand followers, else as chunks on
the work topic that every fanout process shares. An account at or above the threshold
is only written to its own timeline; feedread merges it at read time.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter

from services.fanout.domain import BACKFILL_POSTS, ChunkBounds, mode_change
from services.fanout.store import Entry, FanoutStore
from shared.events import (
    AccountChanged,
    Contract,
    FanoutChunk,
    FeedRebuildRequested,
    FollowChanged,
    PostDeleted,
    PostPublished,
)
from shared.kafka import Batch, EventHandler

log = logging.getLogger(__name__)

GROUP = "fanout"
WORK_GROUP = "fanout-work"
REBUILD_GROUP = "fanout-rebuilds"


class FanoutHandlers:
    def __init__(
        self,
        store: FanoutStore,
        producer: AIOKafkaProducer,
        registry: CollectorRegistry,
        pull_threshold: int,
        chunk_size: int,
    ) -> None:
        self.store = store
        self.producer = producer
        self.pull_threshold = pull_threshold
        self.chunk_size = chunk_size
        self._deliveries = Counter(
            "fanout_deliveries", "Posts written into followers' feeds", registry=registry
        )
        self._chunks = Counter("fanout_chunks", "Work-topic chunks pushed", registry=registry)
        self.delivered = 0  # the same count, for /v1/admin/stats

    def table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the main consumer group (accounts, follows, posts)."""
        return {
            PostPublished: self.on_post_published,
            PostDeleted: self.on_post_deleted,
            FollowChanged: Batch(self.on_follows_changed),
            AccountChanged: Batch(self.on_accounts_changed),
        }

    def work_table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the work consumer group: big fan-outs' chunks, apart from the events
        loop so that one big post never holds up small accounts' posts."""
        return {FanoutChunk: self.on_chunk}

    def rebuild_table(self) -> dict[type[Contract], EventHandler]:
        """Handlers of the rebuild consumer group: returning users' feeds, apart from the
        chunks so that a storm of returning users never holds up a big post."""
        return {FeedRebuildRequested: self.on_rebuild_requested}

    def _count(self, written: int) -> None:
        self._deliveries.inc(written)
        self.delivered += written

    # ------------------------------------------------------------ posts

    async def on_post_published(self, event: PostPublished) -> None:
        post_id, account_id = int(event.post_id), int(event.account_id)
        if await self.store.is_deleted(post_id):
            return  # a redelivered publish of a post deleted since
        await self.store.add_to_timeline(account_id, event.category, post_id, event.published_ms)
        mode = await self.store.mode(account_id)
        if mode.pull or await self.store.is_suspended(account_id):
            return  # pulled at read time (or hidden while suspended)
        if mode.followers <= self.chunk_size:
            async for users in self.store.follower_chunks(account_id, self.chunk_size):
                self._count(
                    await self.store.push(post_id, event.category, event.published_ms, users)
                )
            return
        # A big fan-out: chunks on the work topic, which spreads them over every process.
        # Each is sent as soon as its end is found, so the first is worked on while the
        # rest are planned; the last is open, so followers who arrive meanwhile get it.
        sent = []
        after, number = -1, 0
        while True:
            through = await self.store.chunk_end(account_id, after, self.chunk_size)
            chunk = FanoutChunk(
                post_id=event.post_id,
                account_id=event.account_id,
                category=event.category,
                published_ms=event.published_ms,
                chunk=number,
                after_user=after,
                through_user=through,
            )
            sent.append(
                await self.producer.send(
                    chunk.TOPIC.name, value=chunk.envelope().encode(), key=chunk.key().encode()
                )
            )
            if through is None:
                break
            after, number = through, number + 1
        for delivery in sent:
            await delivery  # acknowledged before this event's offset is committed

    async def on_chunk(self, chunk: FanoutChunk) -> None:
        post_id = int(chunk.post_id)
        if await self.store.is_deleted(post_id):
            return
        bounds = ChunkBounds(chunk.after_user, chunk.through_user)
        users = await self.store.followers_in(int(chunk.account_id), bounds)
        self._count(await self.store.push(post_id, chunk.category, chunk.published_ms, users))
        self._chunks.inc()

    async def on_post_deleted(self, event: PostDeleted) -> None:
        post_id, account_id = int(event.post_id), int(event.account_id)
        await self.store.mark_deleted(post_id)
        await self.store.remove_from_timeline(account_id, event.category, post_id)
        if (await self.store.mode(account_id)).pull:
            return  # never pushed since the account went pull; feedread filters the rest
        gone = [Entry(event.post_id.encode(), event.published_ms, event.category)]
        async for users in self.store.follower_chunks(account_id, self.chunk_size):
            await self.store.remove(users, gone)

    # ------------------------------------------------------------ follows and accounts

    async def on_follows_changed(self, events: list[FollowChanged]) -> None:
        """A run of follow changes: one transaction for the projection, then per account
        one timeline read serving all its new followers (and leavers)."""
        applied = await self.store.apply_follows(events)
        by_account: dict[int, tuple[list[int], list[int]]] = {}
        for account_id, user_id, following in applied.flipped:
            joined, left = by_account.setdefault(account_id, ([], []))
            (joined if following else left).append(user_id)
        for account_id, (joined, left) in by_account.items():
            mode = applied.accounts[account_id]
            if joined and not mode.pull and not await self.store.is_suspended(account_id):
                entries = await self.store.timeline(account_id, BACKFILL_POSTS)
                await self.store.add_entries(joined, entries, only_active=True)
            if left:
                entries = await self.store.timeline(account_id, self.store.feed_cap)
                await self.store.remove(left, entries)
            change = mode_change(mode.followers, mode.pull, self.pull_threshold)
            if change is not None:
                await self._switch_mode(account_id, change.to_pull)

    async def _switch_mode(self, account_id: int, to_pull: bool) -> None:
        """Moves an account between push and pull without losing a post.

        To pull: mark it first; from then on its posts only reach its timeline, which
        feedread merges. To push: copy the timeline into the active followers' feeds,
        unmark it, then copy again — a post that landed in the timeline while the first
        copy ran (and saw the old mark) is caught by the second.
        """
        log.info(
            "account changes fan-out mode",
            extra={"account_id": account_id, "mode": "pull" if to_pull else "push"},
        )
        if to_pull:
            await self.store.set_pull(account_id, True)
            return
        await self._copy_timeline_to_followers(account_id, BACKFILL_POSTS)
        await self.store.set_pull(account_id, False)
        await self._copy_timeline_to_followers(account_id, BACKFILL_POSTS)

    async def _copy_timeline_to_followers(self, account_id: int, count: int) -> None:
        entries = await self.store.timeline(account_id, count)
        async for users in self.store.follower_chunks(account_id, self.chunk_size):
            await self.store.add_entries(users, entries, only_active=True)

    async def on_accounts_changed(self, events: list[AccountChanged]) -> None:
        """Suspension takes an account's posts out of its followers' feeds; reinstatement
        puts its recent ones back (for a push-mode account)."""
        for event in await self.store.apply_accounts(events):
            account_id = int(event.account_id)
            if event.status == "suspended":
                entries = await self.store.timeline(account_id, self.store.feed_cap)
                async for users in self.store.follower_chunks(account_id, self.chunk_size):
                    await self.store.remove(users, entries)
            elif not (await self.store.mode(account_id)).pull:
                await self._copy_timeline_to_followers(account_id, BACKFILL_POSTS)

    # ------------------------------------------------------------ feeds

    async def on_rebuild_requested(self, event: FeedRebuildRequested) -> None:
        await self.rebuild(int(event.user_id))

    async def rebuild(self, user_id: int) -> int:
        """Materializes one feed from the followed push-mode accounts' timelines (merged
        into what the feed holds, so a push that lands meanwhile is kept), then tells
        feedread it is complete. Returns how many posts were merged in."""
        entries = []
        for account_id in await self.store.followed_accounts(user_id):
            entries.extend(await self.store.timeline(account_id, self.store.feed_cap))
        await self.store.add_entries([user_id], entries, only_active=False)
        await self.store.mark_feed_ready(user_id)
        return min(len(entries), self.store.feed_cap)
