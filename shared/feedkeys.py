"""Every Redis key of the feed keyspace, named in one place.

The braces are Redis Cluster hash tags: a user's feed and following keys share one slot,
so a script or transaction over one user's keys never crosses slots; an account's
timeline and its projection share another.
"""

from __future__ import annotations

# Feeds keep the newest FEED_CAP posts by default (WEITAO_FEED_CAP): at 3 posts a day per
# account, 800 entries cover weeks of a consumer following dozens of accounts, while an
# entry costs ~100 bytes, so a full feed is ~80 KB per active user.
DEFAULT_FEED_CAP = 800


def feed_key(user_id: int | str) -> str:
    """Sorted set: post id -> publish time (ms) of what this user's feed shows."""
    return f"feed:{{u{user_id}}}"


def following_key(user_id: int | str) -> str:
    """Hash: account id -> signed follow version (> 0 following, < 0 not), feedread's view."""
    return f"following:{{u{user_id}}}"


def timeline_key(account_id: int | str) -> str:
    """Sorted set: post id -> publish time (ms) of an account's own recent posts."""
    return f"tl:{{a{account_id}}}"


def account_key(account_id: int | str) -> str:
    """String: feedread's projection of an account (JSON), with its version."""
    return f"acct:{{a{account_id}}}"


def post_key(post_id: int | str) -> str:
    """String: feedread's projection of a post (JSON), or a tombstone once deleted."""
    return f"post:{{p{post_id}}}"
