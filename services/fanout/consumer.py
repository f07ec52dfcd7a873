"""Fan-out's Kafka handlers: posts into followers' feeds, follows into its projection.

Every handler is idempotent: feeds hold (post id, publish time) pairs, so adding one
twice or removing one twice leaves the same feed, and the projection keeps only the
newest version of each follow.

Write path (hybrid push/pull): an account below the pull threshold has each post pushed
to its active followers' feeds — inline for a few thousand followers, else as chunks on
the work topic that every fanout process shares. An account at or above the threshold
is only written to its own timeline; feedread merges it at read time.

Follow and account events are recorded in Postgres first and their feed work done after;
a redelivered event whose version is the stored one does that work again, derived from
the stored state, so a failure or crash between the two loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter

from services.fanout.domain import (
    BACKFILL_POSTS,
    EVERY_FOLLOWER,
    REBUILDS_AT_ONCE,
    ChunkBounds,
    account_work,
    mode_change,
)
from services.fanout.store import AccountState, Entry, FanoutStore
from shared.events import (
    AccountChanged,
    Contract,
    FanoutChunk,
    FeedRebuildRequested,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostPublished,
)
from shared.kafka import Batch, EventHandler, send

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
        self._rebuilds = asyncio.Semaphore(REBUILDS_AT_ONCE)

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
        return {FanoutChunk: self.on_chunk, FeedSweep: self.on_sweep}

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
        await self._send_in_chunks(
            account_id,
            lambda number, after, through: FanoutChunk(
                post_id=event.post_id,
                account_id=event.account_id,
                category=event.category,
                published_ms=event.published_ms,
                chunk=number,
                after_user=after,
                through_user=through,
            ),
        )

    async def _send_in_chunks(
        self, account_id: int, chunk_of: Callable[[int, int, int | None], Contract]
    ) -> None:
        """Splits the account's followers into chunks on the work topic (chunk_of(number,
        after_user, through_user) is each chunk's message). Each is sent as soon as its end
        is found, so the first is worked on while the rest are planned; the last is open,
        so followers who arrive meanwhile are in it."""
        sent = []
        after, number = -1, 0
        while True:
            through = await self.store.chunk_end(account_id, after, self.chunk_size)
            chunk = chunk_of(number, after, through)
            sent.append(await send(self.producer, chunk))
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
        one timeline read serving all its new followers (and leavers). Every event that
        is the stored state gets its feed work, redelivered ones included."""
        applied = await self.store.apply_follows(events)
        by_account: dict[int, tuple[list[int], list[int]]] = {}
        for account_id, user_id, following in applied.current:
            joined, left = by_account.setdefault(account_id, ([], []))
            (joined if following else left).append(user_id)
        for account_id, (joined, left) in by_account.items():
            state = applied.accounts[account_id]
            if joined and not state.pull and not state.suspended:
                entries = await self.store.timeline(account_id, BACKFILL_POSTS)
                await self.store.add_entries(joined, entries, only_active=True)
            if left:
                entries = await self.store.timeline(account_id, self.store.feed_cap)
                await self.store.remove(left, entries)
            await self._settle_mode(account_id, state)

    async def _settle_mode(self, account_id: int, state: AccountState) -> None:
        """Moves an account between push and pull as its follower count asks, without
        losing a post; each step is ordered so that a crash after it leaves a state from
        which the redelivered event finishes the move.

        To pull: Redis' pull set first, then Postgres (by which posts are routed). A crash
        between leaves Postgres in push, so the redelivery switches again; meanwhile posts
        are pushed and also merged from the timeline, which feedread shows once.

        To push: copy the timeline into the active followers' feeds (so they miss nothing
        once feedread stops merging it), drop it from the pull set, record push in Postgres
        with a copy pending, copy again (a post that reached the timeline while the first
        copy ran saw pull mode and was not pushed), and clear the pending copy. A crash
        before Postgres' update redoes the whole switch; one after it finds the copy
        pending and copies again.
        """
        change = mode_change(state.followers, state.pull, self.pull_threshold)
        if change is None and not state.copy_pending:
            return
        to_pull = change is not None and change.to_pull
        log.info(
            "account changes fan-out mode",
            extra={"account_id": account_id, "mode": "pull" if to_pull else "push"},
        )
        if to_pull:
            await self.store.mark_pulled(account_id, True)
            await self.store.set_mode(account_id, pull=True)
            return
        if state.pull:
            await self._copy_timeline(account_id, state.suspended)
            await self.store.mark_pulled(account_id, False)
            await self.store.set_mode(account_id, pull=False, copy_pending=True)
        await self._copy_timeline(account_id, state.suspended)
        await self.store.set_mode(account_id, pull=False, copy_pending=False)

    async def _copy_timeline(
        self, account_id: int, suspended: bool, bounds: ChunkBounds = EVERY_FOLLOWER
    ) -> None:
        """Copies the account's newest posts, up to the feed cap (all its followers could
        see), into the feeds of its active followers within `bounds`."""
        if suspended:
            return  # its reinstatement copies them
        entries = await self.store.timeline(account_id, self.store.feed_cap)
        async for users in self.store.follower_chunks(account_id, self.chunk_size, bounds):
            await self.store.add_entries(users, entries, only_active=True)

    async def on_accounts_changed(self, events: list[AccountChanged]) -> None:
        """Suspension takes a push-mode account's posts out of its followers' feeds;
        reinstatement puts them back. A pull-mode account's posts were not pushed since it
        went pull, and feedread hides a suspended author's posts at read time, so it needs
        neither. An account with more than a chunk of followers is swept in chunks on the
        work topic, shared by every fanout process."""
        for applied in await self.store.apply_accounts(events):
            event = applied.event
            suspended = event.status == "suspended"
            if account_work(suspended, event.change, applied.flipped) is None:
                continue
            account_id = int(event.account_id)
            mode = await self.store.mode(account_id)
            if mode.pull:
                continue
            if mode.followers <= self.chunk_size:
                await self._sweep(account_id, suspended, EVERY_FOLLOWER)
                continue
            await self._sweep_in_chunks(event)

    async def _sweep_in_chunks(self, event: AccountChanged) -> None:
        def sweep(number: int, after: int, through: int | None) -> FeedSweep:
            return FeedSweep(
                account_id=event.account_id,
                version=event.version,
                suspended=event.status == "suspended",
                chunk=number,
                after_user=after,
                through_user=through,
            )

        await self._send_in_chunks(int(event.account_id), sweep)

    async def on_sweep(self, chunk: FeedSweep) -> None:
        """One chunk of a big account's suspension or reinstatement (redone if redelivered),
        unless the account has changed since."""
        account_id = int(chunk.account_id)
        if await self.store.account_version(account_id) > chunk.version:
            return  # a newer change of the account does its own sweep
        if (await self.store.mode(account_id)).pull:
            return
        await self._sweep(
            account_id, chunk.suspended, ChunkBounds(chunk.after_user, chunk.through_user)
        )

    async def _sweep(self, account_id: int, suspended: bool, bounds: ChunkBounds) -> None:
        if not suspended:
            await self._copy_timeline(account_id, False, bounds)
            return
        entries = await self.store.timeline(account_id, self.store.feed_cap)
        async for users in self.store.follower_chunks(account_id, self.chunk_size, bounds):
            await self.store.remove(users, entries)

    # ------------------------------------------------------------ feeds

    async def on_rebuild_requested(self, event: FeedRebuildRequested) -> None:
        await self.rebuild(int(event.user_id))

    async def rebuild(self, user_id: int) -> int:
        """Materializes one feed from the newest posts of the followed push-mode accounts'
        timelines (merged into what the feed holds, so a push that lands meanwhile is
        kept), then tells feedread it is complete. Returns how many posts were merged in.
        At most REBUILDS_AT_ONCE run at once in a process, each in bounded memory."""
        async with self._rebuilds:
            accounts = await self.store.followed_accounts(user_id)
            entries = await self.store.newest_of_timelines(accounts, self.store.feed_cap)
            await self.store.add_entries([user_id], entries, only_active=False)
            await self.store.mark_feed_ready(user_id)
            return len(entries)
