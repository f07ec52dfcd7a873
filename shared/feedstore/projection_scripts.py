"""Feedread's post tallies in the feed keyspace: their key and the script that keeps the
newest. A tally lives beside its post's body (same `post` family and hash tag, so
keys.WRITERS already names feedread its writer) and is merged into the body at read time,
so a tally that arrives before its post is kept, not lost."""

from __future__ import annotations

from shared.feedstore.keys import post_key


def post_tally_key(post_id: int | str) -> str:
    """Hash: a post's newest tallies (`v` tally_version, `j` JSON), feedread's view."""
    return f"{post_key(post_id)}:tally"


# feedread: keeps the highest tally_version of a post. ARGV: version, JSON, TTL (s).
APPLY_TALLY = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'j', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
