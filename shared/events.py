"""Every event contract, defined once (the envelope and the base are in shared.envelope).

Ids travel as decimal strings, as in the HTTP API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from shared import topics
from shared.envelope import BadEvent, Contract, Envelope
from shared.posts import PostView


@dataclass(frozen=True)
class AccountChanged(Contract):
    """The account's state after a change (`created`, `suspended`, `unsuspended`).

    `version` grows with every change of the account: projections keep the highest.
    `changed_at` is when accounts made the change (absent from events written before it
    was added): publishing retracts what a suspended account published from then on.
    """

    TOPIC = topics.ACCOUNTS
    TYPE = "account.changed"

    account_id: str
    handle: str
    kind: str
    display_name: str
    category: str | None
    status: str
    created_at: str
    change: str
    version: int
    changed_at: str | None = None

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True)
class FollowChanged(Contract):
    """`user_id` now follows (`following`) or no longer follows `account_id`.

    `version` grows with every change of this (user, account) pair, so a consumer that
    sees an older change after a newer one (redelivery, replay) can ignore it.
    """

    TOPIC = topics.FOLLOWS
    TYPE = "follow.changed"

    user_id: str
    account_id: str
    following: bool
    source: str  # "api" | "qr" | "recommendation" | "import" (staff bulk import)
    version: int
    at: str

    def key(self) -> str:
        return self.account_id


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


@dataclass(frozen=True)
class FanoutChunk(Contract):
    """Push `post_id` to the account's followers with after_user < id <= through_user
    (no upper bound when through_user is None)."""

    TOPIC = topics.FANOUT_WORK
    TYPE = "fanout.chunk"

    post_id: str
    account_id: str
    category: str
    published_ms: int
    chunk: int
    after_user: int
    through_user: int | None

    def key(self) -> str:
        return f"{self.post_id}:{self.chunk}"


@dataclass(frozen=True)
class FeedSweep(Contract):
    """Take the account's posts out of the feeds of its followers with after_user < id <=
    through_user (`suspended`), or put them back (not `suspended`): one chunk of a big
    account's suspension or reinstatement. `version` is the account change it carries
    out; a chunk of a version the account has since moved past is skipped."""

    TOPIC = topics.FANOUT_WORK
    TYPE = "feed.sweep"

    account_id: str
    version: int
    suspended: bool
    chunk: int
    after_user: int
    through_user: int | None

    def key(self) -> str:
        return f"{self.account_id}:sweep:{self.chunk}"


@dataclass(frozen=True)
class FeedRebuildRequested(Contract):
    """A user came back after being inactive: materialize their feed again."""

    TOPIC = topics.FEED_REQUESTS
    TYPE = "feed.rebuild_requested"

    user_id: str
    at: str

    def key(self) -> str:
        return self.user_id


SERVER_SOURCE = "server"  # EngagementRecorded.source of what feedread served


@dataclass(frozen=True)
class EngagementRecorded(Contract):
    """One user action on an account (and maybe a post): reported by a client, or, for
    `source: server`, an impression feedread recorded as it served a feed page."""

    TOPIC = topics.ENGAGEMENT
    TYPE = "engagement.recorded"

    action: str  # impression | view | dwell | click | favorite | purchase | share
    user_id: str
    account_id: str
    post_id: str | None
    at: str
    dwell_ms: int | None = None
    order_id: str | None = None
    amount_cents: int | None = None
    source: str | None = None  # SERVER_SOURCE: feedread served it; absent: a client reported it

    def key(self) -> str:
        return self.account_id


CONTRACTS: dict[tuple[str, int], type[Contract]] = {
    (c.TYPE, c.VERSION): c
    for c in (
        AccountChanged,
        FollowChanged,
        PostPublished,
        PostDeleted,
        PostTallied,
        PostInteraction,
        GroupBuyDecided,
        FanoutChunk,
        FeedSweep,
        FeedRebuildRequested,
        EngagementRecorded,
    )
}


def decode(envelope: Envelope) -> Contract | None:
    """The contract an envelope carries, or None for a type/version this code does not know."""
    contract = CONTRACTS.get((envelope.type, envelope.version))
    return contract.from_payload(envelope.payload) if contract else None


V = TypeVar("V", AccountChanged, FollowChanged)


def newest_per_entity(events: list[V]) -> list[V]:
    """Of a batch of versioned events, the newest for each entity (account, or follow
    pair), in first-seen order: applying only those gives the same end state."""
    newest: dict[tuple[str, ...], V] = {}
    for event in events:
        key = (event.account_id, getattr(event, "user_id", ""))
        if key not in newest or newest[key].version < event.version:
            newest[key] = event
    return list(newest.values())
