"""Packed feeds: a feed as a Redis list of fixed-width entries, newest at the head.

An entry is 16 bytes: the publish time in ms (6 bytes, big-endian) then the post id's
decimal digits, one nibble each (digit + 1, so 0 is free as padding), padded to 10 bytes.
Byte order of entries is then exactly a sorted set's order of (score, member) with the
decimal member ("10" before "9" in the same millisecond), so a packed feed and a timeline
(still a sorted set) merge by the same (score, member bytes) positions.

A list of 800 such entries is two listpack nodes, about 19 B an entry against a skiplist
sorted set's 115-129, and the common push (a post newer than the head) is LINDEX + LPUSH
+ RPOP: no scan, unlike a listpack sorted set's ZADD (docs/feed-encoding.md). Older
entries (backfills, rebuilds) go to the tail in O(1) or by a binary search of LINDEX.

The publish time is stored, not derived from the id: a post's score is its row's
created_at, taken from the clock apart from the id's own millisecond.

Lua never compares entries with `<`: Lua 5.1 compares strings with strcoll, and Redis
sets LC_COLLATE from its environment, so order would depend on the server's locale.
Entries are unpacked into three exact integers (struct '>I6I5I5') and compared as numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

ENTRY_BYTES = 16
SCORE_BYTES = 6
MAX_SCORE = (1 << (8 * SCORE_BYTES)) - 1
_ID_NIBBLES = 2 * (ENTRY_BYTES - SCORE_BYTES)
_TO_NIBBLE = str.maketrans("0123456789", "123456789a")
_FROM_NIBBLE = str.maketrans("123456789a", "0123456789")


def encode_entry(member: bytes | str | int, score: int) -> bytes:
    """The 16 bytes of (post id, publish ms); ValueError if either does not fit."""
    digits = member.decode() if isinstance(member, bytes) else str(member)
    if not digits.isascii() or not digits.isdigit() or len(digits) >= _ID_NIBBLES:
        raise ValueError(f"not a post id of at most {_ID_NIBBLES - 1} digits: {digits!r}")
    if not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score {score} outside 0..{MAX_SCORE}")
    nibbles = digits.translate(_TO_NIBBLE).ljust(_ID_NIBBLES, "0")
    return score.to_bytes(SCORE_BYTES, "big") + bytes.fromhex(nibbles)


def member_code(member: bytes | str | int) -> bytes:
    """The id part of an entry (what removal searches for, whatever the score)."""
    return encode_entry(member, 0)[SCORE_BYTES:]


def decode_entry(raw: bytes) -> tuple[bytes, int]:
    """(member, score) of one entry, as a sorted set would hold them."""
    return _member_of(raw), int.from_bytes(raw[:SCORE_BYTES], "big")


def decode_scored(raw: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """(score, member) of each packed entry, in the given order: what a feed read merges."""
    return list(map(_scored, raw))


# The same entries come back page after page (a post sits in many readers' feeds): each
# is decoded once while it stays among the most recently read.
@functools.lru_cache(maxsize=1 << 16)
def _scored(entry: bytes) -> tuple[int, bytes]:
    return int.from_bytes(entry[:SCORE_BYTES], "big"), _member_of(entry)


def _member_of(raw: bytes) -> bytes:
    return raw[SCORE_BYTES:ENTRY_BYTES].hex().rstrip("0").translate(_FROM_NIBBLE).encode()


def newest_first(entries: Sequence[tuple[bytes | str | int, int]]) -> list[bytes]:
    """Packed (member, score) pairs in feed order, newest first, duplicates dropped."""
    return sorted({encode_entry(m, s) for m, s in entries}, reverse=True)


def decode_entries(raw: Sequence[bytes]) -> list[tuple[bytes, int]]:
    """(member, score) of each packed entry, in the given order."""
    return [decode_entry(entry) for entry in raw]


# encode_entry in Lua, for feeds written as sorted sets before packing.
_LUA_ENCODE = """
local function packed_encode(member, score)
  local nibbles = string.gsub(member, '%d', function(d) return string.format('%x', d + 1) end)
  nibbles = nibbles .. string.rep('0', 20 - #nibbles)
  local id = string.gsub(nibbles, '..', function(h) return string.char(tonumber(h, 16)) end)
  return struct.pack('>I6', tonumber(score)) .. id
end
"""

# Lua over packed feeds (keys of any user; scripts.py builds the keys).
LUA = (
    _LUA_ENCODE
    + """
local function packed_less(a, b)
  local a1, a2, a3 = struct.unpack('>I6I5I5', a)
  local b1, b2, b3 = struct.unpack('>I6I5I5', b)
  if a1 ~= b1 then return a1 < b1 end
  if a2 ~= b2 then return a2 < b2 end
  return a3 < b3
end
-- A feed still a sorted set becomes a packed list in place, keeping its expiry.
local function packed_convert(key)
  local flat = redis.call('ZRANGE', key, 0, -1, 'REV', 'WITHSCORES')
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  for i = 1, #flat, 2 do redis.call('RPUSH', key, packed_encode(flat[i], flat[i + 1])) end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
local function packed_ensure(key)
  if redis.call('TYPE', key).ok == 'zset' then packed_convert(key) end
end
-- Where `entry` goes in a feed of n entries (newest first): the index of the first
-- entry not newer than it.
local function packed_position(key, n, entry)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if packed_less(entry, redis.call('LINDEX', key, mid)) then lo = mid + 1 else hi = mid end
  end
  return lo
end
-- Adds `entry` unless the feed holds it, keeping the newest `cap`; 1 if it was added.
local function packed_push(key, entry, cap)
  local head = redis.pcall('LINDEX', key, 0)
  if type(head) == 'table' then
    packed_convert(key)
    head = redis.call('LINDEX', key, 0)
  end
  if not head or packed_less(head, entry) then
    if redis.call('LPUSH', key, entry) > cap then redis.call('LTRIM', key, 0, cap - 1) end
    return 1
  end
  if head == entry then return 0 end -- the newest post, delivered again
  local n = redis.call('LLEN', key)
  if packed_less(entry, redis.call('LINDEX', key, -1)) then
    if n >= cap then return 0 end
    redis.call('RPUSH', key, entry)
    return 1
  end
  local pivot = redis.call('LINDEX', key, packed_position(key, n, entry))
  if pivot == entry then return 0 end
  redis.call('LINSERT', key, 'BEFORE', pivot, entry)
  if n >= cap then redis.call('LTRIM', key, 0, cap - 1) end
  return 1
end
-- Merges `entries` (packed, newest first, distinct) into a feed, keeping the newest
-- `cap`: one read and one rewrite for many posts (backfills, rebuilds), where a push
-- each would search the list per post. Nothing new: nothing written.
local function packed_merge(key, entries, cap)
  packed_ensure(key)
  local held = redis.call('LRANGE', key, 0, cap - 1)
  local merged, i, j, added = {}, 1, 1, 0
  while #merged < cap and (held[i] or entries[j]) do
    local mine, new = held[i], entries[j]
    if mine == new then
      merged[#merged + 1], i, j = mine, i + 1, j + 1
    elseif new == nil or (mine ~= nil and packed_less(new, mine)) then
      merged[#merged + 1], i = mine, i + 1
    else
      merged[#merged + 1], j, added = new, j + 1, added + 1
    end
  end
  if added == 0 and redis.call('LLEN', key) <= cap then return 0 end
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  for at = 1, #merged, 1000 do -- unpack's stack limit
    redis.call('RPUSH', key, unpack(merged, at, math.min(at + 999, #merged)))
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return added
end
local function packed_remove(key, entry)
  packed_ensure(key)
  return redis.call('LREM', key, 1, entry)
end
"""
)

# Up to `count` entries of a packed feed from the first at or below `top` ('+inf': from
# the newest), newest first. A feed still a sorted set is read as one and its entries
# packed on the way out (a read writes nothing).
_LUA_READ = """
local function packed_read(key, top, count)
  if redis.call('TYPE', key).ok == 'zset' then
    local flat = redis.call('ZRANGE', key, top, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, count,
      'WITHSCORES')
    local entries = {}
    for i = 1, #flat, 2 do entries[#entries + 1] = packed_encode(flat[i], flat[i + 1]) end
    return entries
  end
  local start = 0
  if top ~= '+inf' then
    local limit, hi = tonumber(top), redis.call('LLEN', key)
    while start < hi do
      local mid = math.floor((start + hi) / 2)
      if struct.unpack('>I6', redis.call('LINDEX', key, mid)) > limit then
        start = mid + 1
      else
        hi = mid
      end
    end
  end
  return redis.call('LRANGE', key, start, start + count - 1)
end
"""

# The Lua a script that reads packed feeds starts with (packed_read and its helpers).
LUA_READ = _LUA_ENCODE + _LUA_READ

# One packed feed (KEYS[1]) read: ARGV = top score, count (packed_read).
READ = LUA_READ + "return packed_read(KEYS[1], ARGV[1], tonumber(ARGV[2]))\n"


async def read_feed(redis: Any, key: str) -> list[tuple[bytes, int]]:
    """Every (member, score) pair of a feed key, newest first: for tests and tools (pages
    read through reader.FeedReader.ranges)."""
    return decode_entries(await redis.eval(READ, 1, key, "+inf", 1 << 31))
