"""Publishing's use cases: publish, delete, and learn of account changes. They decide;
the ports (ports.py: the stores in production, fakes in tests) read, lock and write.

A publish runs in the order that keeps refusals cheap: the body, then the author and the
quota, and only then the near-copy fingerprint (tens of ms of CPU on a long text) and
the insert. A request refused for who sent it never pays for the fingerprint.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.publishing import domain, new_post, similarity, votes_and_buys
from services.publishing.ports import (
    IdSource,
    InteractionRepository,
    InteractionTransaction,
    LivePost,
    PostRepository,
    PostRow,
    PostTransaction,
)
from shared.auth import Principal, require_actor
from shared.events import newest_per_entity
from shared.ids import parse_id

Fingerprinter = Callable[[str, str], similarity.Fingerprint | None]
COPY_WINDOW = timedelta(days=30)  # API.md: copies of posts of the last 30 days are refused
# API.md "Projections": a fresh account unknown to the authors projection is waited for,
# at most this long (under the 2 s the contract allows, leaving room for the publish).
AUTHOR_WAIT_S = 1.5
AUTHOR_RECHECK_S = 0.05  # another process may apply the event: the table is re-read this often


class ProjectionSignal:
    """Wakes those waiting for the projection whenever this process applies account events."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Wakes every current waiter (account events were just applied)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Returns at the next change or after `timeout_s`, whichever comes first."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            pass


@dataclass(frozen=True)
class Published:
    """An accepted post with the quota of its day."""

    post: PostRow
    used: int
    limit: int
    resets_at: datetime


async def standing(
    tx: PostTransaction, account_id: int, now: datetime, daily_limit: int, *, lock: bool
) -> tuple[domain.Author, int]:
    """The author and its posts of the Shanghai day, once both rules allow one more."""
    author = domain.check_author(await tx.author(account_id, lock=lock))
    used = await tx.posts_on(account_id, domain.shanghai_day(now))
    domain.check_quota(used, daily_limit, now)
    return author, used


async def write_post(
    tx: PostTransaction,
    post_id: int,
    account_id: int,
    new: new_post.NewPost,
    now: datetime,
    daily_limit: int,
    fingerprint: similarity.Fingerprint | None,
) -> tuple[PostRow, int]:
    """Checks the author and quota again under the author's lock, refuses near-copies of
    other accounts' posts, stores the post; returns it with the quota used today."""
    author, used = await standing(tx, account_id, now, daily_limit, lock=True)
    if fingerprint is not None:
        since = now - COPY_WINDOW
        candidates = await tx.copy_candidates(account_id, fingerprint.bands, since)
        domain.refuse_near_copy(fingerprint.signature, candidates)
    category = new.category or author.category or "other"
    # The author lock serialises one account's publishes, so the count cannot be raced;
    # the unique day slot backs that up inside the table itself.
    row = await tx.add_post(post_id, account_id, new, category, now, used + 1)
    if fingerprint is not None:
        await tx.add_fingerprint(post_id, account_id, fingerprint, now)
    return row, used + 1


class PostService:
    """Publishing a post, deleting one, and applying account changes."""

    def __init__(
        self,
        posts: PostRepository,
        ids: IdSource,
        daily_limit: int,
        clock: Callable[[], datetime],
        fingerprint: Fingerprinter = similarity.fingerprint,
    ) -> None:
        self.posts = posts
        self.ids = ids
        self.daily_limit = daily_limit
        self.clock = clock
        self.fingerprint = fingerprint
        self.authors_applied = ProjectionSignal()
        # One account's requests take turns in this process, so a burst of them checks
        # the quota one after another: only those that will be inserted get fingerprinted.
        self._turns: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def publish(self, account_id: int, new: new_post.NewPost) -> Published:
        """Stores a valid post of an author in good standing within the quota. Raises the
        domain error of the first rule broken."""
        now = self.clock()
        new_post.check_post(new, now)
        async with self._turn(account_id):
            await self._early_standing(account_id, now)
            # Pure CPU work: off the event loop's own turn.
            fingerprint = await asyncio.to_thread(self.fingerprint, new.title, new.body)
            async with self.posts.writing() as tx:
                row, used = await write_post(
                    tx, self.ids.next_id(), account_id, new, now, self.daily_limit, fingerprint
                )
        return Published(row, used, self.daily_limit, domain.quota_resets_at(now))

    async def delete(self, post_id: int, caller: Principal) -> None:
        """Deletes a post for its author, a service or staff; deleting it again: no-op."""
        require_actor(caller, await self.posts.author_id(post_id), staff_too=True)
        async with self.posts.writing() as tx:
            await tx.delete(post_id, self.clock())

    async def apply_accounts(self, changes: list[domain.AccountChange]) -> list[int]:
        """Keeps the newest known state of each account (older or repeated changes: no-op)
        and retracts the posts accepted while a newly learnt suspension lasted; their ids.

        Publishing learns of a suspension from Kafka, so its copy of the account lags by
        design (a publish must not wait for, or call, accounts): a post accepted in that
        lag was never allowed. Its post.deleted takes it out of every feed for good, so an
        unsuspension does not bring it back; a redelivered suspension finds nothing left.
        """
        latest = newest_per_entity([c.event for c in changes])
        async with self.posts.writing() as tx:
            # The author locks order this against write_post(): a post committed before
            # them is retracted below, one checked after them sees the suspension.
            known = await tx.author_versions([int(e.account_id) for e in latest])
            windows = domain.suspension_windows(changes, known)
            await tx.save_authors(latest)
            retracted = await tx.retract(windows, self.clock()) if windows else []
        self.authors_applied.notify()  # committed: waiting publishes may find their author
        return retracted

    async def _early_standing(self, account_id: int, now: datetime) -> None:
        """The cheap early answer, nothing locked. An author not yet known whose id is
        fresh is waited for, bounded, then AuthorNotReady: never a 404 for an account that
        exists (API.md "Projections"); an old unknown id is AuthorNotFound at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AUTHOR_WAIT_S
        while True:
            try:
                async with self.posts.reading() as tx:
                    await standing(tx, account_id, now, self.daily_limit, lock=False)
                return
            except domain.AuthorNotFound:
                if not domain.maybe_in_flight(account_id, now):
                    raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise domain.AuthorNotReady(
                    "account not known to publishing yet; retry shortly",
                    account_id=str(account_id),
                )
            await self.authors_applied.wait(min(remaining, AUTHOR_RECHECK_S))

    def _turn(self, account_id: int) -> asyncio.Lock:
        turn = self._turns.get(account_id)
        if turn is None:
            turn = self._turns[account_id] = asyncio.Lock()
        return turn


# ---------------------------------------------------------------- interactions


async def live_post(tx: InteractionTransaction, post_id: int) -> LivePost:
    """The post unless deleted; PostNotFound otherwise."""
    post = await tx.live_post(post_id)
    if post is None:
        raise domain.PostNotFound("post not found", post_id=str(post_id))
    return post


class InteractionService:
    """Comments, likes and votes on live posts."""

    def __init__(
        self, interactions: InteractionRepository, ids: IdSource, clock: Callable[[], datetime]
    ) -> None:
        self.interactions = interactions
        self.ids = ids
        self.clock = clock

    async def comment(self, post_id: int, author_id: int, text: str) -> Mapping[str, Any]:
        """Adds a comment to a live post; its row."""
        async with self.interactions.writing() as tx:
            post = await live_post(tx, post_id)
            return await tx.add_comment(self.ids.next_id(), post, author_id, text, self.clock())

    async def comments(self, post_id: int, limit: int, after_id: int | None) -> list[Any]:
        """A live post's comments, oldest first."""
        async with self.interactions.reading() as tx:
            await live_post(tx, post_id)
            return await tx.comments(post_id, limit, after_id)

    async def delete_comment(self, post_id: int, comment_id: int, caller: Principal) -> None:
        """Removes a comment for its author, the post's owner, a service or staff."""
        acting = parse_id(caller.sub)  # None for a service or staff token's subject
        async with self.interactions.writing() as tx:
            post = await live_post(tx, post_id)
            author_id = await tx.comment_author(post_id, comment_id)
            if author_id is None:
                raise domain.CommentNotFound("comment not found", comment_id=str(comment_id))
            privileged = caller.is_staff() or caller.role == "service"
            if not privileged and acting not in (author_id, post.account_id):
                raise domain.NotAllowed(
                    "only the comment's author or the post's owner may delete it"
                )
            await tx.remove_comment(post, comment_id, author_id, self.clock())

    async def like(self, post_id: int, user_id: int, liked: bool) -> None:
        """Likes or unlikes a live post; repeating either changes nothing."""
        async with self.interactions.writing() as tx:
            await tx.set_like(await live_post(tx, post_id), user_id, liked, self.clock())

    async def vote(self, post_id: int, user_id: int, choice: str | int) -> None:
        """Casts or moves a user's one vote on an open vote post."""
        now = self.clock()
        async with self.interactions.writing() as tx:
            post = await live_post(tx, post_id)
            option = votes_and_buys.vote_option(post.kind, post.vote, choice, now)
            await tx.cast_vote(post, user_id, option, now)
