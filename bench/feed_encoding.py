"""Feed encodings measured side by side (issue 10 item 4): bytes per entry at the 800 cap
and the fan-out write rate of each candidate, same Redis, same run.

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


async def compare_push_scripts(redis, users: list[str], new_script: str, new_args) -> None:
    """Today's PUSH against a new one over the same users' real feed keys (unused: kept
    for the switch)."""


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
    base = results.get("skiplist zset (today)")
    print("| encoding | B/entry | deliveries/s | ratio to skiplist |")
    print("|---|---|---|---|")
    for name, r in results.items():
        ratio = f"{r['deliveries_s'] / base['deliveries_s']:.2f}" if base else "-"
        print(f"| {name} | {r['bytes_per_entry']:.1f} | {r['deliveries_s']:,.0f} | {ratio} |")
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
