"""shared.feedstore.packed: the entry codec without servers, and the packed list's Lua on
the real Redis, always checked against what a sorted set of the same entries holds."""

from __future__ import annotations

import random
import secrets

import pytest

from shared.feedstore import packed
from shared.feedstore.keys import SEEN_READY, feed_key, seen_key
from shared.feedstore.packed import read_feed
from shared.feedstore.reader import FeedReader
from shared.feedstore.writer import FeedWriter

PUSH = packed.LUA + "return packed_push(KEYS[1], ARGV[1], tonumber(ARGV[2]))"
REMOVE = packed.LUA + "return packed_remove(KEYS[1], ARGV[1])"
MERGE = packed.LUA + "return packed_merge(KEYS[1], {unpack(ARGV, 2)}, tonumber(ARGV[1]))"
BASE_ID = 400_900_000_000_000_000
BASE_MS = 1_795_000_000_000


def posts(count: int, seed: int = 1) -> list[tuple[bytes, int]]:
    """Snowflake-sized ids, some sharing a millisecond, some of other lengths; oldest first."""
    rng = random.Random(seed)
    found = {
        (
            str(rng.choice([BASE_ID, 9, 10, 7 * BASE_ID]) + rng.randrange(10**6)).encode(),
            BASE_MS + rng.randrange(count // 2 + 1),
        )
        for _ in range(count)
    }
    return sorted(found, key=lambda e: (e[1], e[0]))  # oldest first


def feed_order(entries: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    """Newest first, as a sorted set orders (score, member bytes)."""
    return sorted(entries, key=lambda e: (e[1], e[0]), reverse=True)


def test_entries_round_trip_and_sort_like_a_sorted_set() -> None:
    entries = [*posts(300), (b"9", BASE_MS), (b"10", BASE_MS), (b"1", 0), (b"1", packed.MAX_SCORE)]
    encoded = [packed.encode_entry(m, s) for m, s in entries]
    assert all(len(e) == packed.ENTRY_BYTES for e in encoded)
    assert packed.decode_entries(encoded) == entries
    assert packed.decode_entries(packed.newest_first(entries)) == feed_order(entries)


@pytest.mark.parametrize(
    ("member", "score"),
    [(b"", 1), (b"-1", 1), (b"1e3", 1), ("١٢", 1), (b"1" * 20, 1), (b"1", -1), (b"1", 1 << 48)],
)
def test_what_does_not_fit_is_refused(member: bytes | str, score: int) -> None:
    with pytest.raises(ValueError):
        packed.encode_entry(member, score)


@pytest.fixture
async def key(redis):
    name = f"test:packed:{{{secrets.token_hex(6)}}}"
    yield name
    await redis.delete(name)


async def push(redis, key: str, entries: list[tuple[bytes, int]], cap: int) -> list[int]:
    return [await redis.eval(PUSH, 1, key, packed.encode_entry(m, s), cap) for m, s in entries]


async def held(redis, key: str) -> list[tuple[bytes, int]]:
    return packed.decode_entries(await redis.lrange(key, 0, -1))


async def test_pushes_in_any_order_keep_feed_order_and_the_newest_cap(redis, key) -> None:
    entries = posts(200)
    shuffled = random.Random(7).sample(entries, len(entries))
    added = await push(redis, key, shuffled, cap=150)
    assert await held(redis, key) == feed_order(entries)[:150]
    assert sum(added) <= len(entries)


async def test_a_redelivered_push_adds_nothing(redis, key) -> None:
    entries = posts(40)
    await push(redis, key, entries, cap=800)
    before = await held(redis, key)
    assert await push(redis, key, random.Random(3).sample(entries, 40), cap=800) == [0] * 40
    assert await held(redis, key) == before


async def test_a_post_older_than_a_full_feed_is_not_kept(redis, key) -> None:
    entries = posts(30)
    await push(redis, key, entries[10:], cap=len(entries) - 10)
    assert await push(redis, key, entries[:10], cap=len(entries) - 10) == [0] * 10
    assert await held(redis, key) == feed_order(entries[10:])


async def test_a_merge_holds_what_pushes_one_by_one_would(redis, key) -> None:
    entries = posts(300)
    kept, merged = random.Random(5).sample(entries, 120), random.Random(6).sample(entries, 200)
    await push(redis, key, kept, cap=150)
    await redis.pexpire(key, 600_000)
    wanted = feed_order(list({*kept, *merged}))
    assert await redis.eval(MERGE, 1, key, 150, *packed.newest_first(merged)) > 0
    assert await held(redis, key) == wanted[:150]
    assert 0 < await redis.pttl(key) <= 600_000
    # Merged again (a redelivery): nothing new, nothing written.
    assert await redis.eval(MERGE, 1, key, 150, *packed.newest_first(merged)) == 0
    assert await held(redis, key) == wanted[:150]


async def test_removal_takes_out_only_that_post(redis, key) -> None:
    entries = posts(50)
    await push(redis, key, entries, cap=800)
    gone = entries[17]
    assert await redis.eval(REMOVE, 1, key, packed.encode_entry(*gone)) == 1
    assert await redis.eval(REMOVE, 1, key, packed.encode_entry(*gone)) == 0
    assert await held(redis, key) == feed_order([e for e in entries if e != gone])


async def test_reads_by_score_match_a_sorted_set(redis, key) -> None:
    entries = posts(120)
    await push(redis, key, entries, cap=800)
    zset = key + ":z"
    await redis.zadd(zset, {m: s for m, s in entries})
    try:
        tops = ["+inf", BASE_MS - 1, *{s for _, s in entries[::7]}, BASE_MS + 10**6]
        for top in tops:
            for count in (1, 3, 20, 500):
                expected = await redis.zrange(
                    zset,
                    top,
                    "-inf",
                    desc=True,
                    byscore=True,
                    offset=0,
                    num=count,
                    withscores=True,
                )
                read = await redis.eval(packed.READ, 1, key, top, count)
                wanted = [(m, int(s)) for m, s in expected]
                assert packed.decode_entries(read) == wanted
                # A feed not yet packed (written before the switch) reads the same.
                assert (
                    packed.decode_entries(await redis.eval(packed.READ, 1, zset, top, count))
                    == wanted
                )
    finally:
        await redis.delete(zset)


async def test_a_feed_still_a_sorted_set_is_packed_by_its_next_write(redis, key) -> None:
    entries = posts(60)
    await redis.zadd(key, {m: s for m, s in entries[:-1]})
    await redis.pexpire(key, 600_000)
    await push(redis, key, entries[-1:], cap=50)
    assert await redis.type(key) == b"list"
    assert await held(redis, key) == feed_order(entries)[:50]
    assert 0 < await redis.pttl(key) <= 600_000


async def test_the_writer_and_reader_keep_feed_and_category_feed_in_step(redis) -> None:
    user = int.from_bytes(secrets.token_bytes(6), "big")
    keys = [feed_key(user), feed_key(user, "beauty"), feed_key(user, "home")]
    await redis.set(seen_key(user), SEEN_READY, ex=600)
    writer, reader = FeedWriter(redis, 4, 1000), FeedReader(redis)
    try:
        entries = [
            (str(BASE_ID + n).encode(), BASE_MS + n, ("beauty", "home")[n % 2]) for n in range(6)
        ]
        for member, score, category in entries[:3]:
            assert await writer.push(int(member), category, score, [user]) == 1
        await writer.add_entries([user], entries, only_active=True)
        await writer.add_entries([user], entries, only_active=True)  # redelivered
        newest = [(m, s) for m, s, _ in reversed(entries)]
        assert await reader.ranges(keys, "+inf", 0, 10) == [
            [(s, m) for m, s in newest[:4]],
            [(s, m) for m, s, c in reversed(entries) if c == "beauty"],
            [(s, m) for m, s, c in reversed(entries) if c == "home"],
        ]
        assert await reader.ranges(keys[:1], BASE_MS + 4, BASE_MS + 3, 10) == [
            [(s, m) for m, s in newest[1:3]]
        ]
        await writer.remove([user], ["home"], [newest[0]])
        assert await read_feed(redis, keys[0]) == newest[1:4]
        assert await read_feed(redis, keys[2]) == [newest[2], newest[4]]
    finally:
        await redis.delete(seen_key(user), *keys)
