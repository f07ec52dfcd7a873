"""`make bench-fanout`: the write and read paths measured against Redis itself, on the
running local stack, each figure beside its ceiling measured in the same run.

Phases: (1) one fanout process pushing a post to 100,000 followers vs. bare Python
loops doing the same Redis writes; (2) publish -> visible through the API for accounts
of 100, 10,000 and 100,000 followers, and for pulled accounts of 100,000 and 1,000,000;
(3) Redis memory per feed entry. Feed reads are measured from outside, by
`make bench-read` (a Python client in this process measured itself, not the server).

The bench restarts fanout and publishing with bench settings (no pull threshold, no
daily limit) and restores them at the end. Followers are marked active directly in
Redis, as if they had read their feed. Results: stdout, bench-out/fanout.json, and the
section between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.client import WeitaoClient  # noqa: E402
from bench.doc import DOC, replace_section  # noqa: E402
from bench.read_world import fanout_counts_followers  # noqa: E402
from bench.settle import settle  # noqa: E402
from bench.stack import BESIDE_THE_MEASURED, paused, restart  # noqa: E402
from services.fanout.domain import PUSH_BATCH  # noqa: E402
from shared.config import Env  # noqa: E402
from shared.feedstore.keys import (  # noqa: E402
    PULL_ACCOUNTS,
    SEEN_READY,
    feed_key,
    seen_key,
)
from shared.feedstore.packed import encode_entry, newest_first  # noqa: E402
from shared.feedstore.scripts import PUSH as _PUSH  # noqa: E402
from shared.redis_cluster import CROSS_SLOT, PROLOGUE, connect  # noqa: E402

USERS = 100_000
MILLION = 1_000_000
MILLION_HANDLE = "bench_million_pull"  # built once, found again by handle on later runs
RUNS = 3  # each ceiling and the fan-out are measured this many times; medians reported
LATENCY_POSTS = 15
OUT = ROOT / "bench-out"
BEGIN, END = "<!-- bench-fanout:begin -->", "<!-- bench-fanout:end -->"


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


async def until(check, poll_s: float = 0.2) -> None:
    """Polls an async check of another process's state until it holds."""
    while not await check():  # noqa: ASYNC110 - the state lives in another process
        await asyncio.sleep(poll_s)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": pct(latencies_ms, 0.5),
        "p99_ms": pct(latencies_ms, 0.99),
        "samples": len(latencies_ms),
    }


class Bench:
    def __init__(self, api: WeitaoClient, env: Env) -> None:
        self.api = api
        self.env = env
        self.redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
        self.results: dict[str, Any] = {}

    # ------------------------------------------------------------ world

    async def consumers(self, count: int) -> list[str]:
        ids: list[str] = []
        for start in range(0, count, 2000):
            batch = [
                {"handle": f"bn{secrets.token_hex(7)}", "kind": "consumer", "display_name": "买家"}
                for _ in range(min(2000, count - start))
            ]
            reply = await self.api.call(
                "accounts",
                "POST",
                "/v1/admin/bulk/accounts",
                as_=("bench", "staff"),
                json={"accounts": batch},
            )
            ids += [a["id"] for a in reply.expect(201)["created"]]
        return ids

    async def follow(self, users: list[str], account_id: str) -> None:
        for start in range(0, len(users), 2000):
            pairs = [{"user_id": u, "account_id": account_id} for u in users[start : start + 2000]]
            reply = await self.api.call(
                "accounts",
                "POST",
                "/v1/admin/bulk/follows",
                as_=("bench", "staff"),
                json={"action": "follow", "pairs": pairs},
            )
            reply.expect(200)

    async def seller(self, category: str = "women_fashion", handle: str | None = None) -> str:
        code = await self.api.create_invitation(max_uses=1)
        account = await self.api.create_account(
            handle or f"bs{secrets.token_hex(7)}", "seller", category=category, invitation_code=code
        )
        return account["id"]

    async def million_account(self) -> tuple[str, list[str]]:
        """The 1,000,000-follower account and two of its followers. Built through the bulk
        API on the first run (about ten minutes), kept in the stack, found by handle later;
        a build cut short is completed."""
        staff = ("bench", "staff")
        found = await self.api.call(
            "accounts", "GET", f"/v1/accounts/by-handle/{MILLION_HANDLE}", as_=staff
        )
        if found.status == 404:
            account_id, have = await self.seller(handle=MILLION_HANDLE), 0
        else:
            account_id, have = found.expect(200)["id"], found.body["followers_count"]
        if have < MILLION:
            say(f"  building its {MILLION - have:,} missing followers (once; kept for later runs)")
            gate = asyncio.Semaphore(3)

            async def add(count: int) -> None:
                async with gate:
                    await self.follow(await self.consumers(count), account_id)

            step = 20_000
            await asyncio.gather(*(add(min(step, MILLION - n)) for n in range(have, MILLION, step)))
        await self.followers_known(account_id, MILLION)
        await until(lambda: self.redis.sismember(PULL_ACCOUNTS, account_id))
        # Every projection (feedread's too) takes in the import before a post is timed.
        await settle(self.env.str("WEITAO_KAFKA_BOOTSTRAP"), timeout_s=1800, say=say)
        page = await self.api.call(
            "accounts", "GET", f"/v1/accounts/{account_id}/followers", as_=staff
        )
        items = page.expect(200)["items"]
        readers = [items[0]["id"], items[-1]["id"]]
        await self.mark_active(readers)
        return account_id, readers

    async def mark_active(self, users: list[str]) -> None:
        for start in range(0, len(users), 10_000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for user in users[start : start + 10_000]:
                    pipe.set(seen_key(user), SEEN_READY, ex=6 * 3600)
                await pipe.execute()

    async def followers_known(self, account_id: str, count: int) -> None:
        await fanout_counts_followers(self.env.str("WEITAO_POSTGRES_DSN"), account_id, count)

    async def publish(self, account_id: str, text: str) -> tuple[dict, float]:
        body = f"{text} {secrets.token_hex(16)}"
        started = time.perf_counter()
        post = await self.api.publish(account_id, text[:60], body)
        return post, started

    # ------------------------------------------------------------ phase 1: push rate

    async def deliveries(self) -> float:
        async with self.api.session.get(self.api.urls["fanout"] + "/metrics") as resp:
            text = await resp.text()
        return sum(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("fanout_deliveries_total")
        )

    async def _delivered(self, total: float) -> bool:
        return await self.deliveries() >= total

    async def fanout_rate(self, account_id: str, followers: int) -> float:
        before = await self.deliveries()
        _, started = await self.publish(account_id, "百万粉丝的新品")
        await until(lambda: self._delivered(before + followers), poll_s=0.01)
        return followers / (time.perf_counter() - started)

    async def ceiling_script(self, users: list[str]) -> float:
        """A bare loop running the same push script over the same users: Redis's own rate."""
        body = CROSS_SLOT + PROLOGUE + _PUSH
        member = str(int(time.time() * 1000))
        chunk = self.env.int("WEITAO_FANOUT_CHUNK")
        started = time.perf_counter()
        for start in range(0, len(users), chunk):
            async with self.redis.pipeline(transaction=False) as pipe:
                for batch in range(start, min(start + chunk, len(users)), PUSH_BATCH):
                    ids = ",".join(users[batch : batch + PUSH_BATCH])
                    pipe.eval(body, 0, encode_entry(member, 1), 800, "women_fashion", ids)
                await pipe.execute()
        elapsed = time.perf_counter() - started
        await self.cleanup(users, member)
        return len(users) / elapsed

    async def ceiling_pipeline(self, users: list[str]) -> float:
        """A bare loop of plain pipelined LPUSH + trim per follower (no script, so no
        check that the feed does not hold the post yet)."""
        member = str(int(time.time() * 1000) + 1)
        started = time.perf_counter()
        for start in range(0, len(users), 1000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for user in users[start : start + 1000]:
                    for key in (feed_key(user), feed_key(user, "women_fashion")):
                        pipe.lpush(key, encode_entry(member, 1))
                        pipe.ltrim(key, 0, 799)
                await pipe.execute()
        elapsed = time.perf_counter() - started
        await self.cleanup(users, member)
        return len(users) / elapsed

    async def cleanup(self, users: list[str], member: str) -> None:
        for start in range(0, len(users), 10_000):
            async with self.redis.pipeline(transaction=False) as pipe:
                for user in users[start : start + 10_000]:
                    pipe.lrem(feed_key(user), 0, encode_entry(member, 1))
                    pipe.lrem(feed_key(user, "women_fashion"), 0, encode_entry(member, 1))
                await pipe.execute()

    # ------------------------------------------------------------ phase 2: visibility

    async def visible_latency(self, account_id: str, readers: list[str]) -> list[float]:
        samples = []
        for n in range(LATENCY_POSTS):
            post, started = await self.publish(account_id, f"上新第{n}波")
            pending = set(readers)
            while pending:
                for reader in list(pending):
                    page = await self.api.feed(reader, limit=5)
                    if any(i["post"]["id"] == post["id"] for i in page["items"]):
                        pending.discard(reader)
                        samples.append((time.perf_counter() - started) * 1000)
                if pending:
                    await asyncio.sleep(0.005)
        return samples

    # ------------------------------------------------------------ phase 3: memory

    async def memory_per_entry(self) -> dict[str, float]:
        key = feed_key(f"bench{secrets.token_hex(4)}")
        base = 400_900_000_000_000_000
        posts = [(base + i * 4_194_304, 1_795_000_000_000 + i * 60_000) for i in range(800)]
        await self.redis.rpush(key, *newest_first(posts))
        usage = await self.redis.memory_usage(key)
        await self.redis.delete(key)
        info = await self.redis.info("memory")
        return {
            "feed_of_800_bytes": usage,
            "bytes_per_entry": usage / 800,
            "per_active_user_cap_bytes": 2 * usage,  # feed + its category feeds
            "redis_used_memory_bytes": info["used_memory"],
        }


async def main() -> None:
    env = Env.from_os()
    OUT.mkdir(exist_ok=True)
    say("restarting fanout (no pull threshold) and publishing (no daily limit) for the bench")
    restart("fanout", WEITAO_PULL_THRESHOLD="1000000000")
    restart("publishing", WEITAO_DAILY_POST_LIMIT="100000")
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        bench = Bench(api, env)
        try:
            with paused(*BESIDE_THE_MEASURED):  # off the 2 cores the measured processes share
                await run(bench, env)
        finally:
            say("restoring fanout and publishing with the deployment's settings")
            restart("fanout")
            restart("publishing")
            await bench.redis.aclose()


async def run(bench: Bench, env: Env) -> None:
    results = bench.results
    say(f"building {USERS:,} consumers and accounts of 100 / 10,000 / 100,000 followers")
    started = time.perf_counter()
    users = await bench.consumers(USERS)
    await bench.mark_active(users)
    sizes = {100: await bench.seller(), 10_000: await bench.seller(), 100_000: await bench.seller()}
    for size, account in sizes.items():
        await bench.follow(users[:size], account)
    for size, account in sizes.items():
        await bench.followers_known(account, size)
    # Timed phases start on a quiet machine: every projection has taken in the import.
    await settle(env.str("WEITAO_KAFKA_BOOTSTRAP"), timeout_s=1800, say=say)
    results["world_build_s"] = round(time.perf_counter() - started, 1)

    say("phase 1: deliveries/s of one fanout process vs. bare Redis loops")
    rates, scripts, pipelines = [], [], []
    for _ in range(RUNS):
        rates.append(await bench.fanout_rate(sizes[100_000], 100_000))
        scripts.append(await bench.ceiling_script(users))
        pipelines.append(await bench.ceiling_pipeline(users))
    results["fanout"] = {
        "deliveries_per_s": statistics.median(rates),
        "runs": rates,
        "ceiling_script_loop_per_s": statistics.median(scripts),
        "ceiling_pipeline_loop_per_s": statistics.median(pipelines),
        "ratio_to_script_loop": statistics.median(rates) / statistics.median(scripts),
        "ratio_to_pipeline_loop": statistics.median(rates) / statistics.median(pipelines),
    }
    say(f"  {results['fanout']}")

    say("phase 2: publish -> visible through the API")
    visible = {}
    for size, account in sizes.items():
        samples = await bench.visible_latency(account, [users[0], users[size - 1]])
        visible[f"push_{size}"] = summary(samples)
        say(f"  {size:>7,} followers: {visible[f'push_{size}']}")

    say("phase 2b: publish -> visible for a pulled account (fanout on threshold 1,000)")
    restart("fanout", WEITAO_PULL_THRESHOLD="1000")
    (newcomer,) = await bench.consumers(1)
    await bench.follow([newcomer], sizes[100_000])  # a follow: the 100k account -> pull
    await until(lambda: bench.redis.sismember(PULL_ACCOUNTS, sizes[100_000]))
    samples = await bench.visible_latency(sizes[100_000], [users[0], users[50_000]])
    visible["pull_100000"] = summary(samples)
    say(f"  pulled account: {visible['pull_100000']}")
    say("phase 2c: publish -> visible for a 1,000,000-follower pulled account")
    million, million_readers = await bench.million_account()
    samples = await bench.visible_latency(million, million_readers)
    visible["pull_1000000"] = summary(samples)
    say(f"  1,000,000-follower pulled account: {visible['pull_1000000']}")
    results["publish_to_visible"] = visible

    say("phase 3: Redis memory")
    results["memory"] = await bench.memory_per_entry()
    say(f"  {results['memory']}")
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    (OUT / "fanout.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    write_doc(results)


def write_doc(r: dict[str, Any]) -> None:
    f, v, m = r["fanout"], r["publish_to_visible"], r["memory"]
    lines = [
        BEGIN,
        f"Command: `make bench-fanout` · machine: {r['machine']['cpus']} cores, "
        f"{r['machine']['platform']}, Python {r['machine']['python']} · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · medians of {RUNS} runs",
        "",
        "| write path (100,000-follower post, one fanout process) | per s | ratio |",
        "|---|---|---|",
        f"| fanout service, publish 201 -> last delivery | {f['deliveries_per_s']:,.0f} | |",
        f"| ceiling: bare loop, same push script, same keys | "
        f"{f['ceiling_script_loop_per_s']:,.0f} | **{f['ratio_to_script_loop']:.2f}** |",
        f"| ceiling: bare loop, pipelined ZADD + trim | {f['ceiling_pipeline_loop_per_s']:,.0f} "
        f"| {f['ratio_to_pipeline_loop']:.2f} |",
        "",
        "| publish -> visible (API to API) | p50 ms | p99 ms | samples |",
        "|---|---|---|---|",
        *(
            f"| {k.split('_')[0]}, {int(k.split('_')[1]):,} followers | {x['p50_ms']:.0f} | "
            f"{x['p99_ms']:.0f} | {x['samples']} |"
            for k, x in v.items()
        ),
        "",
        "Feed reads: `make bench-read` (load from outside the server process).",
        "",
        f"Redis memory: a full feed of 800 entries takes {m['feed_of_800_bytes']:,} bytes "
        f"({m['bytes_per_entry']:.0f} bytes per entry); with its category feeds the cap "
        f"costs about {m['per_active_user_cap_bytes'] / 1024:.0f} KiB per active user.",
        END,
    ]
    replace_section(BEGIN, END, "\n".join(lines))
    say(f"wrote {DOC.relative_to(ROOT)} and bench-out/fanout.json")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help only
    asyncio.run(main())
