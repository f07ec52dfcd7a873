"""The world of `make bench-read`, built through the API: readers, each following 20 pushed
and 5 pulled accounts, whose feeds are full (800 entries) and who are active.

Posts: each account publishes its 3 real posts of the day through the API (the quota's
limit); the other 37 are `post.published` events of the real contract sent to the posts
topic, shaped like the account's real post and backdated a few minutes, so fanout's own
consumer writes the feeds and timelines and feedread's own consumer keeps the bodies."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import asyncpg

from bench.client import WeitaoClient
from bench.world import BULK
from shared.events import PostPublished
from shared.feedstore.keys import PULL_ACCOUNTS, SEEN_READY, feed_key, post_key, seen_key
from shared.ids import WEITAO_EPOCH_MS, WORKER_BITS
from shared.kafka import event_producer, send, start_with_retry
from shared.timeutil import from_epoch_ms, rfc3339

PUSHED, PULLED = 20, 5
POSTS_PER_ACCOUNT = 40  # 20 pushed accounts x 40 = the 800-entry feed cap
REAL_POSTS = 3  # the daily quota
CATEGORY = "beauty"  # the pulled accounts' and half the pushed accounts' category
BENCH_WORKER = (1 << WORKER_BITS) - 1  # snowflake worker number of the backdated posts


@dataclass(frozen=True)
class ReadWorld:
    readers: list[str]
    pushed: list[str]
    pulled: list[str]


def backdated_id(published_ms: int, sequence: int) -> int:
    """A snowflake of `published_ms` minted as the bench's own worker number."""
    return (
        ((published_ms - WEITAO_EPOCH_MS) << (WORKER_BITS + 12))
        | (BENCH_WORKER << 12)
        | (sequence & 4095)
    )


async def until(check, poll_s: float = 0.5, timeout_s: float = 300) -> None:
    """Polls an async check of other processes' state until it holds."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - the state lives in other processes
            await asyncio.sleep(poll_s)


async def fanout_counts_followers(dsn: str, account_id: str, count: int) -> None:
    """Waits until fanout's projection counts `count` followers of the account."""
    conn = await asyncpg.connect(dsn)
    try:
        await until(
            lambda: conn.fetchval(
                "SELECT coalesce(max(followers), 0) >= $2 FROM fanout.account_modes "
                "WHERE account_id = $1",
                int(account_id),
                count,
            )
        )
    finally:
        await conn.close()


class Builder:
    """Staff bulk calls and the Redis checks that say the world is ready."""

    def __init__(self, api: WeitaoClient, redis, bootstrap: str, postgres_dsn: str) -> None:
        self.api, self.redis, self.bootstrap, self.dsn = api, redis, bootstrap, postgres_dsn

    async def bulk(self, path: str, body: dict, status: int) -> dict:
        reply = await self.api.call("accounts", "POST", path, as_=("bench", "staff"), json=body)
        return reply.expect(status)

    async def consumers(self, count: int) -> list[str]:
        ids: list[str] = []
        for start in range(0, count, BULK):
            batch = [
                {"handle": f"br{secrets.token_hex(7)}", "kind": "consumer", "display_name": "买家"}
                for _ in range(min(BULK, count - start))
            ]
            made = await self.bulk("/v1/admin/bulk/accounts", {"accounts": batch}, 201)
            ids += [a["id"] for a in made["created"]]
        return ids

    async def seller(self, category: str) -> str:
        code = await self.api.create_invitation(max_uses=1)
        handle = f"brs{secrets.token_hex(7)}"
        account = await self.api.create_account(
            handle, "seller", category=category, invitation_code=code
        )
        return account["id"]

    async def follow(self, users: list[str], account_id: str) -> None:
        for start in range(0, len(users), BULK):
            pairs = [{"user_id": u, "account_id": account_id} for u in users[start : start + BULK]]
            await self.bulk("/v1/admin/bulk/follows", {"action": "follow", "pairs": pairs}, 200)

    async def followers_known(self, account_id: str, count: int) -> None:
        """Waits until fanout counts the account's followers (it pushes to those it knows)."""
        await fanout_counts_followers(self.dsn, account_id, count)

    async def mark_active(self, users: list[str]) -> None:
        """As if each had read their feed: fanout pushes to active users only."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.set(seen_key(user), SEEN_READY, ex=6 * 3600)
            await pipe.execute()


async def build(bench: Builder, readers: int, pull_threshold: int, say=print) -> ReadWorld:
    started = time.perf_counter()
    users = await bench.consumers(max(readers, pull_threshold + 100))
    people = users[:readers]
    pushed = [await bench.seller(CATEGORY if i % 2 else "women_fashion") for i in range(PUSHED)]
    pulled = [await bench.seller(CATEGORY) for _ in range(PULLED)]
    await bench.mark_active(people)
    for account in pushed:
        await bench.follow(people, account)
    for account in pulled:
        await bench.follow(users, account)
    for account in pulled:
        await until(lambda a=account: bench.redis.sismember(PULL_ACCOUNTS, a), timeout_s=120)
    for account in pushed:
        await bench.followers_known(account, readers)
    say(f"  {readers} readers follow {PUSHED} pushed and {PULLED} pulled accounts")
    posts = await publish_days(bench, pushed + pulled, say)
    full = PUSHED * POSTS_PER_ACCOUNT
    await until(lambda: _feeds_full(bench, people, full))
    await until(lambda: bodies_kept(bench, posts))
    say(f"  feeds full ({full} entries) in {time.perf_counter() - started:.0f} s")
    return ReadWorld(people, pushed, pulled)


async def publish_days(bench: Builder, accounts: list[str], say) -> list[str]:
    """Publishes every account's posts; returns the ids sent as events."""
    templates = {}
    for account in accounts:
        for n in range(REAL_POSTS):
            templates[account] = await bench.api.publish(
                account, f"上新第{n}波", f"今日新品 {secrets.token_hex(16)}"
            )
    events = event_producer(bench.bootstrap)
    await start_with_retry(events, "bench-read")
    newest = int(time.time() * 1000) - 60_000
    sent, ids = [], []
    try:
        for k in range(POSTS_PER_ACCOUNT - REAL_POSTS):
            for j, account in enumerate(accounts):
                ms = newest - (k * len(accounts) + j) * 1000
                post_id = str(backdated_id(ms, k * len(accounts) + j))
                template = templates[account]
                post = {
                    **template,
                    "id": post_id,
                    "title": f"往期好物{k}",
                    "body": f"往期好物 {secrets.token_hex(16)}",
                    "created_at": rfc3339(from_epoch_ms(ms)),
                }
                event = PostPublished(
                    post_id=post_id,
                    account_id=account,
                    category=template["category"],
                    published_ms=ms,
                    post=post,
                )
                sent.append(await send(events, event))
                ids.append(post_id)
        await asyncio.gather(*sent)
    finally:
        await events.stop()
    say(f"  {len(accounts) * REAL_POSTS} posts published, {len(ids)} sent as events")
    return ids


async def _feeds_full(bench: Builder, readers: list[str], full: int) -> bool:
    async with bench.redis.pipeline(transaction=False) as pipe:
        for reader in readers:
            pipe.llen(feed_key(reader))
        sizes = await pipe.execute()
    return min(sizes) >= full


async def bodies_kept(bench: Builder, post_ids: list[str]) -> bool:
    async with bench.redis.pipeline(transaction=False) as pipe:
        for post_id in post_ids:
            pipe.exists(post_key(post_id))
        return all(await pipe.execute())
