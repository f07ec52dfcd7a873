"""Feed encodings measured side by side (issue 10 item 4): bytes per entry at the 800 cap
and the fan-out write rate of each candidate, same Redis, same run.

Then the fan-out's whole push script (feed + category feed of 800 each, the marker's
PTTL, both expiries) before packing (skiplist) and now (scripts.PUSH, packed), the same way.

For each candidate: 5,000 full feeds (800 entries, cloned from one template with COPY),
then pushes of a newer post into every feed, one script call per 1,000 feeds (push +
trim to the cap), pipelined; 3 rounds, the median reported with its ratio to today's
skiplist sorted set. Memory is MEMORY USAGE of full feeds / 800. Keys live under
`bench:fe:` and are deleted after each candidate. Run with `python bench/feed_encoding.py`
on the local stack (only Redis is used).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import Env  # noqa: E402
from shared.feedstore import packed  # noqa: E402
from shared.feedstore.keys import (  # noqa: E402
    FEED_OUTLIVES_SEEN_S,
    SEEN_READY,
    feed_key,
    lua_key,
    seen_key,
)
from shared.feedstore.scripts import PUSH  # noqa: E402
from shared.redis_cluster import connect, eval_over_users  # noqa: E402

FEEDS = 5_000
CAP = 800
PER_CALL = 1_000
ROUNDS = 3
BASE_ID = 400_900_000_000_000_000  # snowflake-sized ids, 4,194,304 apart (1 ms each)
BASE_MS = 1_795_000_000_000

KEY = "'bench:fe:{' .. u .. '}'"

# Today's write, on one key: ZADD then trim by rank.
ZSET_PUSH = f"""
local score, post, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])
for u in each_user() do
  local key = {KEY}
  if redis.call('ZADD', key, score, post) == 1 then
    redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
  end
end
return 0
"""

# Packed entries in one string, oldest first: binary search, APPEND when not full,
# else the string rewritten (GETRANGE + SET), as no command drops a string's prefix.
STRING_PUSH = (
    packed.LUA
    + """
-- The 0-based index of the first entry not less than `entry` (n: none).
local function packed_lower_bound(blob, n, entry)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if packed_less(string.sub(blob, mid * 16 + 1, mid * 16 + 16), entry) then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo
end
-- Adds `entry` unless held; keeps the newest `cap`. Returns 1 if the feed now holds it
-- and was full (an entry was dropped), else 0; -1 if it was there already.
local function packed_push(key, entry, cap)
  local n = redis.call('STRLEN', key) / 16
  if n > 0 then
    local last = redis.call('GETRANGE', key, -16, -1)
    if last == entry then return -1 end
    if packed_less(last, entry) then
      if n < cap then
        redis.call('APPEND', key, entry)
        return 0
      end
      local kept = redis.call('GETRANGE', key, (n - cap + 1) * 16, -1)
      redis.call('SET', key, kept .. entry, 'KEEPTTL')
      return 1
    end
  end
  local blob = redis.call('GET', key) or ''
  local at = packed_lower_bound(blob, n, entry)
  if string.sub(blob, at * 16 + 1, at * 16 + 16) == entry then return -1 end
  local drop = math.max(0, n + 1 - cap)
  if at < drop then return 1 end -- older than all a full feed keeps
  local value = string.sub(blob, drop * 16 + 1, at * 16) .. entry .. string.sub(blob, at * 16 + 1)
  redis.call('SET', key, value, 'KEEPTTL')
  return drop > 0 and 1 or 0
end
"""
    + f"""
local entry, cap = ARGV[1], tonumber(ARGV[2])
for u in each_user() do packed_push({KEY}, entry, cap) end
return 0
"""
)

# Packed entries in a list, newest at the head (shared.feedstore.packed).
LIST_PUSH = (
    packed.LUA
    + f"""
local entry, cap = ARGV[1], tonumber(ARGV[2])
for u in each_user() do packed_push({KEY}, entry, cap) end
return 0
"""
)


# The fan-out's whole script before packing (scripts.PUSH at 05125f6), kept as the baseline:
# feed and category feed as skiplist sorted sets, the marker's PTTL, both expiries.
SKIPLIST_SCRIPT = f"""
local function seen_key(u) return {lua_key(seen_key, "u")} end
local function feed_key(u) return {lua_key(feed_key, "u")} end
local function category_feed_key(u, c) return {lua_key(feed_key, "u", "c")} end
local function expire_with(key, seen_ttl)
  if seen_ttl >= 0 then
    redis.call('PEXPIRE', key, seen_ttl + {FEED_OUTLIVES_SEEN_S * 1000})
  elseif seen_ttl == -2 then
    redis.call('PEXPIRE', key, {FEED_OUTLIVES_SEEN_S * 1000})
  end
end
local post, score, cap, category = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local delivered = 0
for u in each_user() do
  local seen_ttl = redis.call('PTTL', seen_key(u))
  if seen_ttl ~= -2 then
    local feed, category_feed = feed_key(u), category_feed_key(u, category)
    local full = redis.call('ZADD', feed, score, post) == 1
      and redis.call('ZREMRANGEBYRANK', feed, 0, -cap - 1) > 0
    redis.call('ZADD', category_feed, score, post)
    if full then redis.call('ZREMRANGEBYRANK', category_feed, 0, -cap - 1) end
    expire_with(feed, seen_ttl)
    expire_with(category_feed, seen_ttl)
    delivered = delivered + 1
  end
end
return delivered
"""
CATEGORY = "beauty"


def entries(count: int) -> list[tuple[int, int]]:
    return [(BASE_ID + i * 4_194_304, BASE_MS + i) for i in range(count)]


async def fill_zset(redis, key: str) -> None:
    await redis.zadd(key, {str(m): s for m, s in entries(CAP)})


async def fill_string(redis, key: str) -> None:
    await redis.set(key, b"".join(reversed(packed.newest_first(entries(CAP)))))


async def fill_list(redis, key: str) -> None:
    await redis.rpush(key, *packed.newest_first(entries(CAP)))


def zset_args(n: int) -> list:
    member, score = entries(CAP + n + 1)[-1]
    return [score, str(member), CAP]


def packed_args(n: int) -> list:
    member, score = entries(CAP + n + 1)[-1]
    return [packed.encode_entry(member, score), CAP]


# name -> (fill one template feed, push script, ARGV of the n-th round's newer post)
CANDIDATES = {
    "skiplist zset (today)": (fill_zset, ZSET_PUSH, zset_args),
    "packed string": (fill_string, STRING_PUSH, packed_args),
    "packed list": (fill_list, LIST_PUSH, packed_args),
}


async def clone(redis, template: str, users: list[str]) -> None:
    for start in range(0, len(users), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for user in users[start : start + 1000]:
                pipe.copy(template, f"bench:fe:{{{user}}}", replace=True)
            await pipe.execute()


async def drop(redis, users: list[str]) -> None:
    for start in range(0, len(users), 1000):
        await redis.delete(*[f"bench:fe:{{{u}}}" for u in users[start : start + 1000]])


async def measure(redis, name: str, users: list[str]) -> dict[str, float]:
    fill, script, args_of = CANDIDATES[name]
    template = "bench:fe:{template}"
    await fill(redis, template)
    await clone(redis, template, users)
    usage = [await redis.memory_usage(f"bench:fe:{{{u}}}", samples=0) for u in users[:5]]
    rates = []
    for n in range(ROUNDS):
        started = time.perf_counter()
        await eval_over_users(redis, script, users, args_of(n), PER_CALL, lambda u: u)
        rates.append(len(users) / (time.perf_counter() - started))
    await drop(redis, [*users, "template"])
    return {
        "bytes_per_entry": statistics.median(usage) / CAP,
        "deliveries_s": statistics.median(rates),
        "rates": rates,
    }


async def measure_script(redis, packed_feeds: bool, users: list[str]) -> dict[str, float]:
    """The fan-out's whole push script (feed + category feed, marker, expiries) over
    active users with full feeds: skiplist before packing, or scripts.PUSH now."""
    template_feed, template_category = "bench:fe:{template}", "bench:fe:{template}:c"
    fill = fill_list if packed_feeds else fill_zset
    await fill(redis, template_feed)
    await fill(redis, template_category)
    for start in range(0, len(users), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for user in users[start : start + 1000]:
                pipe.set(seen_key(user), SEEN_READY, ex=3600)
                pipe.copy(template_feed, feed_key(user), replace=True)
                pipe.copy(template_category, feed_key(user, CATEGORY), replace=True)
            await pipe.execute()
    usage = [await redis.memory_usage(feed_key(u), samples=0) for u in users[:5]]
    rates = []
    for n in range(ROUNDS):
        member, score = entries(CAP + n + 1)[-1]
        args = (
            [packed.encode_entry(member, score), CAP, CATEGORY]
            if packed_feeds
            else [str(member), score, CAP, CATEGORY]
        )
        started = time.perf_counter()
        script = PUSH if packed_feeds else SKIPLIST_SCRIPT
        await eval_over_users(redis, script, users, args, PER_CALL, seen_key)
        rates.append(len(users) / (time.perf_counter() - started))
    for start in range(0, len(users), 1000):
        batch = users[start : start + 1000]
        await redis.delete(
            *[k for u in batch for k in (seen_key(u), feed_key(u), feed_key(u, CATEGORY))]
        )
    await redis.delete(template_feed, template_category)
    return {
        "bytes_per_entry": statistics.median(usage) / CAP,
        "deliveries_s": statistics.median(rates),
        "rates": rates,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=FEEDS)
    parser.add_argument("--only", action="append", help="candidate name (repeatable)")
    options = parser.parse_args()
    env = Env.from_os()
    redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
    users = [f"u{i}" for i in range(options.feeds)]
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, "
        f"{options.feeds} feeds of {CAP}, {PER_CALL} feeds per call, median of {ROUNDS}"
    )
    results = {}
    for name in options.only or CANDIDATES:
        results[name] = await measure(redis, name, users)
        print(name, results[name], flush=True)
    script_users = [f"benchfe{i}" for i in range(options.feeds)]
    for name, packed_feeds in (
        ("PUSH script, skiplist (before)", False),
        ("PUSH script, packed (now)", True),
    ):
        results[name] = await measure_script(redis, packed_feeds, script_users)
        print(name, results[name], flush=True)
    print("| encoding | B/entry | deliveries/s | ratio to skiplist |")
    print("|---|---|---|---|")
    for name, r in results.items():
        baseline = "PUSH script, skiplist (before)" if "script" in name else "skiplist zset (today)"
        base = results.get(baseline)
        ratio = f"{r['deliveries_s'] / base['deliveries_s']:.2f}" if base else "-"
        print(f"| {name} | {r['bytes_per_entry']:.1f} | {r['deliveries_s']:,.0f} | {ratio} |")
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
