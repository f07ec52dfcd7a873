"""Fan-out's use cases: posts into followers' feeds, follows and accounts into its
projection, sweeps, mode switches and rebuilds, over three ports (services.fanout.ports).

Every use case is idempotent: feeds hold (post id, publish time) pairs, so adding one
twice or removing one twice leaves the same feed, and the projection keeps only the
newest version of each follow.

Write path (hybrid push/pull): an account below the pull threshold has each post pushed
to its active followers' feeds — inline for up to a chunk of followers, else as chunks
on the work topic that every fanout process shares. An account at or above the threshold
is only written to its own timeline; feedread merges it at read time.

Follow and account events are recorded in the projection first and their feed work done
after; a redelivered event whose version is the stored one does that work again, derived
from the stored state, so a failure or crash between the two loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.fanout.domain import (
    BACKFILL_POSTS,
    EVERY_FOLLOWER,
    REBUILDS_AT_ONCE,
    AccountState,
    ChunkBounds,
    Entry,
    account_work,
    mode_change,
)
from services.fanout.ports import FeedWrites, FollowProjection, WorkTopic
from shared.events import (
    AccountChanged,
    Contract,
    FanoutChunk,
    FeedSweep,
    FollowChanged,
    PostDeleted,
    PostPublished,
)

log = logging.getLogger(__name__)


class Fanout:
    """The use cases; each returns once its work is done (or safely queued)."""

    def __init__(
        self,
        follows: FollowProjection,
        feeds: FeedWrites,
        work: WorkTopic,
        pull_threshold: int,
        chunk_size: int,
    ) -> None:
        self.follows = follows
        self.feeds = feeds
        self.work = work
        self.pull_threshold = pull_threshold
        self.chunk_size = chunk_size
        self._rebuilds = asyncio.Semaphore(REBUILDS_AT_ONCE)

    # ------------------------------------------------------------ posts

    async def post_published(self, event: PostPublished) -> int:
        """Timeline, then followers' feeds; returns the feeds written inline."""
        post_id, account_id = int(event.post_id), int(event.account_id)
        if await self.follows.is_deleted(post_id):
            return 0  # a redelivered publish of a post deleted since
        await self.feeds.add_to_timeline(account_id, event.category, post_id, event.published_ms)
        mode = await self.follows.mode(account_id)
        if mode.pull or await self.follows.is_suspended(account_id):
            return 0  # pulled at read time (or hidden while suspended)
        if mode.followers <= self.chunk_size:
            delivered = 0
            async for users in self.follows.follower_chunks(account_id, self.chunk_size):
                delivered += await self.feeds.push(
                    post_id, event.category, event.published_ms, users
                )
            return delivered
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
        return 0

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
            through = await self.follows.chunk_end(account_id, after, self.chunk_size)
            sent.append(await self.work.send(chunk_of(number, after, through)))
            if through is None:
                break
            after, number = through, number + 1
        for delivery in sent:
            await delivery  # acknowledged before this event's offset is committed

    async def chunk(self, chunk: FanoutChunk) -> int:
        """One chunk of a big fan-out (redone if redelivered); returns the feeds written."""
        post_id = int(chunk.post_id)
        if await self.follows.is_deleted(post_id):
            return 0
        bounds = ChunkBounds(chunk.after_user, chunk.through_user)
        users = await self.follows.followers_in(int(chunk.account_id), bounds)
        return await self.feeds.push(post_id, chunk.category, chunk.published_ms, users)

    async def post_deleted(self, event: PostDeleted) -> None:
        """Out of the timeline and, unless the account is pulled, its followers' feeds."""
        post_id, account_id = int(event.post_id), int(event.account_id)
        await self.follows.mark_deleted(post_id)
        await self.feeds.remove_from_timeline(account_id, event.category, post_id)
        if (await self.follows.mode(account_id)).pull:
            return  # never pushed since the account went pull; feedread filters the rest
        gone = [Entry(event.post_id.encode(), event.published_ms, event.category)]
        async for users in self.follows.follower_chunks(account_id, self.chunk_size):
            await self.feeds.remove(users, gone)

    # ------------------------------------------------------------ follows and accounts

    async def follows_changed(self, events: list[FollowChanged]) -> None:
        """A run of follow changes: one projection write, then per account one timeline
        read serving all its new followers (and leavers). Every event that is the stored
        state gets its feed work, redelivered ones included."""
        applied = await self.follows.apply_follows(events)
        by_account: dict[int, tuple[list[int], list[int]]] = {}
        for account_id, user_id, following in applied.current:
            joined, left = by_account.setdefault(account_id, ([], []))
            (joined if following else left).append(user_id)
        for account_id, (joined, left) in by_account.items():
            state = applied.accounts[account_id]
            if joined and not state.pull and not state.suspended:
                entries = await self.feeds.timeline(account_id, BACKFILL_POSTS)
                await self.feeds.add_entries(joined, entries, only_active=True)
            if left:
                entries = await self.feeds.timeline(account_id, self.feeds.feed_cap)
                await self.feeds.remove(left, entries)
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
            await self.feeds.mark_pulled(account_id, True)
            await self.follows.set_mode(account_id, pull=True)
            return
        if state.pull:
            await self._copy_timeline(account_id, state.suspended)
            await self.feeds.mark_pulled(account_id, False)
            await self.follows.set_mode(account_id, pull=False, copy_pending=True)
        await self._copy_timeline(account_id, state.suspended)
        await self.follows.set_mode(account_id, pull=False, copy_pending=False)

    async def _copy_timeline(
        self, account_id: int, suspended: bool, bounds: ChunkBounds = EVERY_FOLLOWER
    ) -> None:
        """Copies the account's newest posts, up to the feed cap (all its followers could
        see), into the feeds of its active followers within `bounds`."""
        if suspended:
            return  # its reinstatement copies them
        entries = await self.feeds.timeline(account_id, self.feeds.feed_cap)
        async for users in self.follows.follower_chunks(account_id, self.chunk_size, bounds):
            await self.feeds.add_entries(users, entries, only_active=True)

    async def accounts_changed(self, events: list[AccountChanged]) -> None:
        """Suspension takes a push-mode account's posts out of its followers' feeds;
        reinstatement puts them back. A pull-mode account's posts were not pushed since it
        went pull, and feedread hides a suspended author's posts at read time, so it needs
        neither. An account with more than a chunk of followers is swept in chunks on the
        work topic, shared by every fanout process."""
        for applied in await self.follows.apply_accounts(events):
            event = applied.event
            suspended = event.status == "suspended"
            if account_work(suspended, event.change, applied.flipped) is None:
                continue
            account_id = int(event.account_id)
            mode = await self.follows.mode(account_id)
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

    async def sweep(self, chunk: FeedSweep) -> None:
        """One chunk of a big account's suspension or reinstatement (redone if redelivered),
        unless the account has changed since."""
        account_id = int(chunk.account_id)
        if await self.follows.account_version(account_id) > chunk.version:
            return  # a newer change of the account does its own sweep
        if (await self.follows.mode(account_id)).pull:
            return
        await self._sweep(
            account_id, chunk.suspended, ChunkBounds(chunk.after_user, chunk.through_user)
        )

    async def _sweep(self, account_id: int, suspended: bool, bounds: ChunkBounds) -> None:
        if not suspended:
            await self._copy_timeline(account_id, False, bounds)
            return
        entries = await self.feeds.timeline(account_id, self.feeds.feed_cap)
        async for users in self.follows.follower_chunks(account_id, self.chunk_size, bounds):
            await self.feeds.remove(users, entries)

    # ------------------------------------------------------------ feeds

    async def rebuild(self, user_id: int) -> int:
        """Materializes one feed from the newest posts of the followed push-mode accounts'
        timelines (merged into what the feed holds, so a push that lands meanwhile is
        kept), then tells feedread it is complete. Returns how many posts were merged in.
        At most REBUILDS_AT_ONCE run at once in a process, each in bounded memory."""
        async with self._rebuilds:
            accounts = await self.follows.followed_accounts(user_id)
            entries = await self.feeds.newest_of_timelines(accounts, self.feeds.feed_cap)
            await self.feeds.add_entries([user_id], entries, only_active=False)
            await self.feeds.mark_feed_ready(user_id)
            return len(entries)
