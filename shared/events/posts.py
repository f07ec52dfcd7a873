"""The contracts of posts and what happens to them: published, deleted, tallied, and
users' interactions with them (publishing is their producer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from shared import topics
from shared.envelope import BadEvent, Contract
from shared.posts import PostView


@dataclass(frozen=True)
class PostPublished(Contract):
    """A new post: routing fields plus the post exactly as feeds show it (`post`, a
    shared.posts.PostView as JSON: `of` builds one, `view` reads it)."""

    TOPIC = topics.POSTS
    TYPE = "post.published"

    post_id: str
    account_id: str
    category: str
    published_ms: int
    post: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return self.account_id

    @classmethod
    def of(cls, post: PostView, published_ms: int) -> PostPublished:
        """The event of a post published at `published_ms`."""
        return cls(
            post_id=post.id,
            account_id=post.account_id,
            category=post.category,
            published_ms=published_ms,
            post=msgspec.to_builtins(post),
        )

    def view(self) -> PostView:
        """The post as a PostView; BadEvent naming the field when it is not one."""
        try:
            return msgspec.convert(self.post, PostView)
        except msgspec.ValidationError as exc:
            raise BadEvent(f"{self.TYPE}: post: {exc}") from None


@dataclass(frozen=True)
class PostDeleted(Contract):
    """A post was deleted: routing fields for taking it out of feeds and timelines."""

    TOPIC = topics.POSTS
    TYPE = "post.deleted"

    post_id: str
    account_id: str
    category: str
    published_ms: int

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True)
class PostTallied(Contract):
    """A post's live tallies as publishing holds them after a change: a vote's counts, a
    group buy's participants and state (None where the post has no such part).
    `tally_version` grows with every change of the post's tallies; readers keep the
    highest, so a redelivered or late event never rolls a tally back. On the posts topic,
    keyed by the author like post.published, so it never overtakes the post itself."""

    TOPIC = topics.POSTS
    TYPE = "post.tallied"

    post_id: str
    account_id: str
    tally_version: int
    vote_counts: list[int] | None = None  # per option, in the options' order
    vote_total: int | None = None
    group_buy_participants: int | None = None
    group_buy_state: str | None = None  # shared.posts.GroupBuyState

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True)
class PostInteraction(Contract):
    """A user's interaction with a post (for insights): `action` is like, unlike, comment,
    uncomment or vote; `comment_id` and `option` say which, where they apply."""

    TOPIC = topics.INTERACTIONS
    TYPE = "post.interaction"

    post_id: str
    account_id: str  # the post's author
    user_id: str
    action: str
    at: str
    comment_id: str | None = None
    option: int | None = None

    def key(self) -> str:
        return self.post_id


@dataclass(frozen=True)
class GroupBuyDecided(Contract):
    """A group buy ended (or filled) and came out `succeeded` (at least min_participants
    joined) or `failed`; published once per buy. Keyed by the post, as its joins
    (post.interaction `group_buy_join` / `group_buy_leave`) are, so it comes after them."""

    TOPIC = topics.INTERACTIONS
    TYPE = "group_buy.decided"

    post_id: str
    account_id: str  # the operator
    item_id: str
    state: str  # "succeeded" | "failed"
    participants: int
    min_participants: int
    price_cents: int
    decided_at: str

    def key(self) -> str:
        return self.post_id
