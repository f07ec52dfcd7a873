"""Every Redis key of the feed keyspace, named in one place, and who writes each.

The braces are Redis Cluster hash tags: all of a user's keys (feed, category feeds,
activity, following) share one slot, so a script over one user's keys never crosses
slots; an account's timelines and its projection share another.

Who writes what is WRITERS below: each key family has one writer service, whose API in
this package (writer.FeedWriter for fanout, reader.FeedReader for feedread) is the only
code that changes it; GRANTS names the two narrow exceptions and why they exist.
tests/unit/test_feedstore_ownership.py checks both against what the APIs really change.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.vocabulary import CATEGORIES

FANOUT = "fanout"
FEEDREAD = "feedread"

# Key family -> the one service whose API writes it (content, members and expiry).
WRITERS: dict[str, str] = {
    "feed": FANOUT,  # feed_key(u), feed_key(u, category)
    "timeline": FANOUT,  # timeline_key(a), timeline_key(a, category)
    "pull_accounts": FANOUT,  # PULL_ACCOUNTS
    "seen": FEEDREAD,  # seen_key(u)
    "following": FEEDREAD,  # following_key(u)
    "account": FEEDREAD,  # account_key(a)
    "post": FEEDREAD,  # post_key(p)
}

# (family, service that does not own it) -> the only change that service may make.
GRANTS: dict[tuple[str, str], str] = {
    # A read keeps the reader's feeds alive as long as their marker, so they expire together.
    ("feed", FEEDREAD): "expiry",
    # Only fanout knows when a rebuild is complete; it flips the marker to SEEN_READY,
    # never creating it and keeping the expiry feedread gave it (SET XX KEEPTTL).
    ("seen", FANOUT): "ready",
}

# Set of account ids whose posts are not pushed (too many followers): feedread merges
# their timelines at read time. Fanout keeps the truth in Postgres.
PULL_ACCOUNTS = "fanout:pull-accounts"

# A user's feed keys expire this long after their activity marker (seen_key): feedread
# sets both on a read (once the marker has aged reader.TOUCH_REFRESH_S), fanout on every
# write, so an inactive user's keys all go together and a feed never outlives by much the
# marker that says it is complete.
FEED_OUTLIVES_SEEN_S = 3600

# Values of the activity marker (see seen_key).
SEEN_PENDING = b"p"  # the user came back; fanout has not rebuilt the feed yet
SEEN_READY = b"r"  # the materialized feed is complete

POST_TOMBSTONE = b"-"  # the post projection's value for a deleted post


def feed_key(user_id: int | str, category: str | None = None) -> str:
    """Packed list (shared.feedstore.packed): (publish time in ms, post id) entries,
    newest first, of what this user's feed (or one category of it) shows."""
    return f"feed:{{u{user_id}}}" if category is None else f"feed:{{u{user_id}}}:{category}"


def all_feed_keys(user_id: int | str) -> list[str]:
    """The user's feed and each category feed."""
    return [feed_key(user_id)] + [feed_key(user_id, c) for c in CATEGORIES]


def seen_key(user_id: int | str) -> str:
    """String that exists while the user is active (read a feed in the last N days; it
    expires then). Fanout pushes only to users that have it. Values: SEEN_*."""
    return f"seen:{{u{user_id}}}"


def following_key(user_id: int | str) -> str:
    """Hash: account id -> signed follow version (> 0 following, < 0 not), feedread's view."""
    return f"following:{{u{user_id}}}"


def timeline_key(account_id: int | str, category: str | None = None) -> str:
    """Sorted set: post id -> publish time (ms) of an account's recent posts (or those of
    one category)."""
    base = f"tl:{{a{account_id}}}"
    return base if category is None else f"{base}:{category}"


def account_key(account_id: int | str) -> str:
    """Hash: feedread's projection of an account (`v` version, `j` JSON)."""
    return f"acct:{{a{account_id}}}"


def post_key(post_id: int | str) -> str:
    """String: feedread's projection of a post (JSON), or a tombstone once deleted; its
    newest tallies live beside it (post_tally_key: same family, same hash tag)."""
    return f"post:{{p{post_id}}}"


def post_tally_key(post_id: int | str) -> str:
    """Hash: a post's newest tallies (`v` tally_version, `j` JSON), feedread's view, kept
    apart from the body and merged into it at read time, so a tally that arrives before
    its post is kept, not lost."""
    return f"{post_key(post_id)}:tally"


def family_of(key: str) -> str:
    """The WRITERS family a key of this keyspace belongs to (ValueError if none)."""
    if key == PULL_ACCOUNTS:
        return "pull_accounts"
    prefix = key.split(":", 1)[0]
    family = _FAMILY_OF_PREFIX.get(prefix)
    if family is None:
        raise ValueError(f"not a feed keyspace key: {key}")
    return family


_FAMILY_OF_PREFIX = {
    "feed": "feed",
    "tl": "timeline",
    "seen": "seen",
    "following": "following",
    "acct": "account",
    "post": "post",
}


def lua_key(key_fn: Callable[..., str], *lua_vars: str) -> str:
    """A Lua expression for `key_fn`'s key with Lua variables in place of its arguments:
    scripts build many users' keys from their ids, and the names stay in this module."""
    return "'" + key_fn(*(f"' .. {var} .. '" for var in lua_vars)) + "'"
