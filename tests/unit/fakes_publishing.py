"""In-memory fakes of publishing's ports (service.PostRepository, InteractionRepository,
IdSource), after cosmicpython's FakeRepository/FakeUnitOfWork: what Postgres would keep."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from services.publishing import domain, new_post, similarity
from services.publishing.ports import LivePost
from shared.events import AccountChanged


class FakeIds:
    def __init__(self, start: int = 1000) -> None:
        self._next = itertools.count(start)

    def next_id(self) -> int:
        return next(self._next)


class FakePostRepository:
    """Authors, posts, fingerprints and the outbox in memory; a transaction that raises
    leaves them as they were."""

    def __init__(self, authors: dict[int, domain.Author] | None = None) -> None:
        self.authors: dict[int, domain.Author] = dict(authors or {})
        self.versions: dict[int, int] = {account_id: 1 for account_id in self.authors}
        self.posts: dict[int, dict[str, Any]] = {}
        self.fingerprints: dict[int, tuple[int, similarity.Fingerprint, datetime]] = {}
        self.outbox: list[tuple[str, int]] = []  # (event, post id)
        self.steps: list[str] = []  # what the use cases asked for, in order

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[FakePostTransaction]:
        yield FakePostTransaction(self)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FakePostTransaction]:
        state = copy.deepcopy((self.authors, self.versions, self.posts, self.fingerprints))
        outbox = list(self.outbox)
        try:
            yield FakePostTransaction(self)
        except BaseException:
            self.authors, self.versions, self.posts, self.fingerprints = state
            self.outbox = outbox
            raise

    async def author_id(self, post_id: int) -> int:
        if post_id not in self.posts:
            raise domain.PostNotFound("post not found", post_id=str(post_id))
        return self.posts[post_id]["account_id"]

    def live(self, account_id: int) -> list[int]:
        """The ids of an account's posts not deleted."""
        return [
            i
            for i, p in self.posts.items()
            if p["account_id"] == account_id and p["deleted_at"] is None
        ]


class FakePostTransaction:
    def __init__(self, repo: FakePostRepository) -> None:
        self.repo = repo

    async def author(self, account_id: int, *, lock: bool) -> domain.Author | None:
        self.repo.steps.append("lock author" if lock else "read author")
        await asyncio.sleep(0)  # a database round trip: other requests run meanwhile
        return self.repo.authors.get(account_id)

    async def posts_on(self, account_id: int, day: date) -> int:
        return sum(
            1
            for p in self.repo.posts.values()
            if p["account_id"] == account_id and p["shanghai_day"] == day
        )

    async def copy_candidates(
        self, account_id: int, bands: list[int], since: datetime
    ) -> list[tuple[int, list[int]]]:
        return [
            (post_id, fingerprint.signature)
            for post_id, (author, fingerprint, at) in self.repo.fingerprints.items()
            if author != account_id
            and at > since
            and self.repo.posts[post_id]["deleted_at"] is None
            and set(enumerate(bands)) & set(enumerate(fingerprint.bands))
        ]

    async def add_post(
        self,
        post_id: int,
        account_id: int,
        new: new_post.NewPost,
        category: str,
        now: datetime,
        day_slot: int,
    ) -> dict[str, Any]:
        self.repo.steps.append("insert")
        day = domain.shanghai_day(now)
        taken = {
            p["day_slot"]
            for p in self.repo.posts.values()
            if p["account_id"] == account_id and p["shanghai_day"] == day
        }
        assert day_slot not in taken, "the unique day slot would refuse this insert"
        row = {
            "id": post_id,
            "account_id": account_id,
            "kind": new.kind,
            "title": new.title,
            "body": new.body,
            "category": category,
            "created_at": now,
            "shanghai_day": day,
            "day_slot": day_slot,
            "deleted_at": None,
        }
        self.repo.posts[post_id] = row
        self.repo.outbox.append(("post.published", post_id))
        return row

    async def add_fingerprint(
        self, post_id: int, account_id: int, fingerprint: similarity.Fingerprint, now: datetime
    ) -> None:
        self.repo.fingerprints[post_id] = (account_id, fingerprint, now)

    async def author_versions(self, account_ids: list[int]) -> dict[int, int]:
        return {i: self.repo.versions[i] for i in account_ids if i in self.repo.versions}

    async def save_authors(self, latest: list[AccountChanged]) -> None:
        for event in latest:
            account_id = int(event.account_id)
            if self.repo.versions.get(account_id, 0) < event.version:
                author = domain.Author(event.kind, event.category, event.status)
                self.repo.authors[account_id] = author
                self.repo.versions[account_id] = event.version

    async def retract(self, windows: list[domain.SuspensionWindow], now: datetime) -> list[int]:
        retracted = [
            post_id
            for post_id, p in self.repo.posts.items()
            for w in windows
            if p["account_id"] == w.account_id
            and p["deleted_at"] is None
            and p["created_at"] >= w.since
            and (w.until is None or p["created_at"] < w.until)
        ]
        for post_id in retracted:
            await self.delete(post_id, now)
        return retracted

    async def delete(self, post_id: int, now: datetime) -> None:
        post = self.repo.posts.get(post_id)
        if post is not None and post["deleted_at"] is None:
            post["deleted_at"] = now
            self.repo.outbox.append(("post.deleted", post_id))


class FakeInteractions:
    """service.InteractionRepository in memory: live posts, comments, likes and votes, and
    the post.interaction events as (action, user)."""

    def __init__(self, posts: list[LivePost]) -> None:
        self.posts = {post.id: post for post in posts}
        self.comment_rows: dict[int, dict[str, Any]] = {}
        self.likes: set[tuple[int, int]] = set()
        self.votes: dict[tuple[int, int], int] = {}
        self.events: list[tuple[str, int]] = []

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[FakeInteractions]:
        yield self

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[FakeInteractions]:
        yield self  # each use case checks before it writes: nothing to roll back

    async def live_post(self, post_id: int) -> LivePost | None:
        return self.posts.get(post_id)

    async def add_comment(
        self, comment_id: int, post: LivePost, author_id: int, text: str, now: datetime
    ) -> dict[str, Any]:
        row = {"id": comment_id, "post_id": post.id, "author_id": author_id, "text": text}
        self.comment_rows[comment_id] = {**row, "created_at": now, "deleted": False}
        self.events.append(("comment", author_id))
        return row

    async def comments(self, post_id: int, limit: int, after_id: int | None) -> list[Any]:
        live = [
            c
            for i, c in sorted(self.comment_rows.items())
            if c["post_id"] == post_id and not c["deleted"] and i > (after_id or 0)
        ]
        return live[:limit]

    async def comment_author(self, post_id: int, comment_id: int) -> int | None:
        comment = self.comment_rows.get(comment_id)
        if comment is None or comment["post_id"] != post_id or comment["deleted"]:
            return None
        return comment["author_id"]

    async def remove_comment(
        self, post: LivePost, comment_id: int, author_id: int, now: datetime
    ) -> None:
        self.comment_rows[comment_id]["deleted"] = True
        self.events.append(("uncomment", author_id))

    async def set_like(self, post: LivePost, user_id: int, liked: bool, now: datetime) -> None:
        if ((post.id, user_id) in self.likes) != liked:
            (self.likes.add if liked else self.likes.discard)((post.id, user_id))
            self.events.append(("like" if liked else "unlike", user_id))

    async def cast_vote(self, post: LivePost, user_id: int, option: int, now: datetime) -> None:
        self.votes[(post.id, user_id)] = option
        self.events.append(("vote", user_id))
