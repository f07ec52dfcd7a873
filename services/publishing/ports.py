"""Publishing's ports: what its use cases (service.py) need of storage. The stores
(store.py, interactions.py) implement them on Postgres; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from services.publishing import domain, new_post, similarity, votes_and_buys
from shared.events import AccountChanged

PostRow = Mapping[str, Any]  # a post's columns (store.POST_COLUMNS)


class PostTransaction(Protocol):
    """What the use cases read and write inside one transaction (or, reading, none)."""

    async def author(self, account_id: int, *, lock: bool) -> domain.Author | None:
        """The author; with `lock`, its row stays locked to the commit (one publish at a time)."""

    async def posts_on(self, account_id: int, day: date) -> int:
        """How many posts the account published on a Shanghai day, deleted ones included."""

    async def copy_candidates(
        self, account_id: int, bands: list[int], since: datetime
    ) -> list[tuple[int, list[int]]]:
        """(post id, signature) of other accounts' live posts since `since` sharing a band."""

    async def add_post(
        self,
        post_id: int,
        account_id: int,
        new: new_post.NewPost,
        category: str,
        now: datetime,
        day_slot: int,
    ) -> PostRow:
        """Inserts a post in its quota slot of the day and enqueues post.published."""

    async def add_fingerprint(
        self, post_id: int, account_id: int, fingerprint: similarity.Fingerprint, now: datetime
    ) -> None:
        """Indexes a post's fingerprint for later near-copy lookups."""

    async def author_versions(self, account_ids: list[int]) -> dict[int, int]:
        """The known version of each account, its author row locked to the commit."""

    async def save_authors(self, latest: list[AccountChanged]) -> None:
        """Stores each account's state unless a newer version is already stored."""

    async def retract(self, windows: list[domain.SuspensionWindow], now: datetime) -> list[int]:
        """Deletes (with post.deleted) the live posts accepted inside the windows; their ids."""

    async def delete(self, post_id: int, now: datetime) -> None:
        """Marks a live post deleted and enqueues post.deleted; a deleted one: no-op."""


class PostRepository(Protocol):
    """Where transactions come from."""

    def reading(self) -> AbstractAsyncContextManager[PostTransaction]:
        """Reads without a transaction or locks."""

    def writing(self) -> AbstractAsyncContextManager[PostTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""

    async def author_id(self, post_id: int) -> int:
        """The account that wrote a post, deleted or not; PostNotFound when none did."""


class IdSource(Protocol):
    def next_id(self) -> int:
        """A new unique 64-bit id."""


class LivePost(NamedTuple):
    """What an interaction needs of the live post it is with."""

    id: int
    account_id: int
    kind: str
    vote: dict[str, Any] | None


class InteractionTransaction(Protocol):
    """Comments, likes and votes inside one transaction (or, reading, none); each change
    moves the post's counter and enqueues its post.interaction with it."""

    async def live_post(self, post_id: int) -> LivePost | None:
        """The post unless deleted."""

    async def add_comment(
        self, comment_id: int, post: LivePost, author_id: int, text: str, now: datetime
    ) -> Mapping[str, Any]:
        """Stores a comment; its row (id, post_id, author_id, text, created_at)."""

    async def comments(self, post_id: int, limit: int, after_id: int | None) -> list[Any]:
        """A post's live comments after `after_id`, oldest first."""

    async def comment_author(self, post_id: int, comment_id: int) -> int | None:
        """The author of a live comment of the post, the comment locked to the commit."""

    async def remove_comment(
        self, post: LivePost, comment_id: int, author_id: int, now: datetime
    ) -> None:
        """Marks a comment deleted."""

    async def set_like(self, post: LivePost, user_id: int, liked: bool, now: datetime) -> None:
        """Likes or unlikes; repeating either changes nothing (and emits nothing)."""

    async def cast_vote(self, post: LivePost, user_id: int, option: int, now: datetime) -> None:
        """Casts or moves the user's one vote; a new or moved one also enqueues post.tallied."""


class InteractionRepository(Protocol):
    def reading(self) -> AbstractAsyncContextManager[InteractionTransaction]:
        """Reads without a transaction or locks."""

    def writing(self) -> AbstractAsyncContextManager[InteractionTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""


class GroupBuyTransaction(Protocol):
    """Joins, leaves and outcomes of group buys inside one transaction; each change moves
    the post's count and enqueues its event with it."""

    async def locked_buy(self, post_id: int) -> votes_and_buys.OpenBuy | None:
        """The live post as a group buy, its row locked to the commit; None when deleted."""

    async def has_joined(self, post_id: int, user_id: int) -> bool:
        """Whether the user is among the buy's participants."""

    async def add_participant(
        self, buy: votes_and_buys.OpenBuy, user_id: int, now: datetime
    ) -> int:
        """Adds a participant (post.interaction group_buy_join, post.tallied); the new count."""

    async def remove_participant(
        self, buy: votes_and_buys.OpenBuy, user_id: int, now: datetime
    ) -> None:
        """Removes a participant if there (group_buy_leave, post.tallied); else no-op."""

    async def due_buys(self, now: datetime, limit: int) -> list[votes_and_buys.OpenBuy]:
        """Open buys ended by `now`, locked; rows another transaction holds are skipped."""

    async def decide(
        self, buy: votes_and_buys.OpenBuy, state: str, participants: int, now: datetime
    ) -> None:
        """Records an open buy's outcome and enqueues group_buy.decided and post.tallied."""


class GroupBuyRepository(Protocol):
    def writing(self) -> AbstractAsyncContextManager[GroupBuyTransaction]:
        """One transaction: committed when the block ends, rolled back when it raises."""
