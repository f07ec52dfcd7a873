"""The contracts of feed work: fanout's own chunks and sweeps, and feedread's requests
to materialize a returning user's feed again."""

from __future__ import annotations

from dataclasses import dataclass

from shared import topics
from shared.envelope import Contract


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
