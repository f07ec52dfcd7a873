"""The load-testing harness: point it at a running Weitao (the local stack, or any by
WEITAO_<SERVICE>_URL and WEITAO_JWT_SECRET), build a seeded world, drive open-loop
traffic at target rates, and report what the system held.

    python -m bench.harness --scenario smoke          # < 1 minute, correctness only
    python -m bench.harness --scenario standard --runs 3 --doc

Open loop: each kind of request is launched on its own schedule, never waiting for the
previous one, so a slow system sees its queue grow instead of the load shrinking.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import report
from bench.client import WeitaoClient
from bench.settle import settle
from bench.world import BoughtBurst, World, WorldSpec, build, buy_followers
from shared.config import Env
from shared.feedstore.keys import feed_key
from shared.vocabulary import CATEGORIES

ROOT = Path(__file__).resolve().parent.parent
MAX_IN_FLIGHT = 400  # past this the harness records a drop instead of queuing forever
VISIBLE_DEADLINE_S = 15.0
# The engagement a reader sends, by weight: page views with dwell, dwell reports, clicks,
# favourites, shares and purchases with amounts (what insights' stats and rankings use).
ENGAGEMENT = {"view": 45, "dwell": 10, "click": 20, "favorite": 10, "share": 5, "purchase": 10}
PURCHASE_CENTS = (990, 59_900)  # a purchase's amount, drawn uniformly
JUDGE_DEADLINE_S = 120.0  # how long the report waits for the bought burst to be judged
OFFICIAL_SHOWN = 10


@dataclass(frozen=True)
class Scenario:
    name: str
    world: WorldSpec
    duration_s: float
    publishes_per_s: float
    reads_per_s: float
    follows_per_s: float
    events_per_s: float  # engagement batches of 10
    readers: int  # consumers who read (and so are active)
    bought_followers: int = 0  # one operator's bought-follower burst (刷粉)


SCENARIOS = {
    "smoke": Scenario(
        "smoke",
        WorldSpec(consumers=400, operators=30, follows_max=20),
        duration_s=20,
        publishes_per_s=2,
        reads_per_s=40,
        follows_per_s=2,
        events_per_s=2,
        readers=200,
        bought_followers=50,
    ),
    # 20,000 consumers, ~650,000 Zipf follows: `make bench` takes about 8 minutes here;
    # raise the world with --consumers/--operators for capacity tests.
    "standard": Scenario(
        "standard",
        WorldSpec(consumers=20_000, operators=600, follows_max=60),
        duration_s=60,
        publishes_per_s=5,
        reads_per_s=150,
        follows_per_s=5,
        events_per_s=10,
        readers=5000,
        bought_followers=200,
    ),
}


def bucket(followers: int) -> str:
    for limit, name in ((100, "<100"), (1000, "100-1k"), (10_000, "1k-10k")):
        if followers < limit:
            return name
    return ">=10k"


@dataclass
class Recorder:
    started: float = field(default_factory=time.perf_counter)
    latencies: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # kind -> (t, ms)
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    visible: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    invisible: list[str] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    def record(self, kind: str, status: int, ms: float) -> None:
        self.statuses[(kind, status)] += 1
        self.latencies[kind].append((time.perf_counter() - self.started, ms))


class Driver:
    def __init__(
        self,
        api: WeitaoClient,
        world: World,
        scenario: Scenario,
        rec: Recorder,
        seed: int,
        quota_left: dict[str, int],
    ) -> None:
        self.api, self.world, self.scenario, self.rec = api, world, scenario, rec
        self.rng = random.Random(seed)
        self.readers = world.consumers[: scenario.readers]
        self.in_flight = 0
        self.quota_left = quota_left  # shared by the runs: the server's day is one day
        self.popularity = [world.follower_count(op) + 1 for op in world.operators]

    async def timed(self, kind: str, coro) -> Any:
        started = time.perf_counter()
        reply = await coro
        self.rec.record(kind, reply.status, (time.perf_counter() - started) * 1000)
        return reply

    async def open_loop(self, kind: str, rate: float, action) -> None:
        if rate <= 0:
            return
        deadline = time.perf_counter() + self.scenario.duration_s
        tasks = set()
        n = 0
        start = time.perf_counter()
        while (due := start + n / rate) < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            n += 1
            if self.in_flight >= MAX_IN_FLIGHT:
                self.rec.dropped[kind] += 1
                continue
            self.in_flight += 1
            task = asyncio.create_task(action())
            task.add_done_callback(lambda _: self._done())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self) -> None:
        self.in_flight -= 1

    async def read(self) -> None:
        user = self.rng.choice(self.readers)
        params: dict[str, Any] = {}
        if self.rng.random() < 0.2:
            params["category"] = self.rng.choice(CATEGORIES)
        reply = await self.timed(
            "read",
            self.api.call(
                "feedread", "GET", f"/v1/users/{user}/feed", as_=(user, "user"), params=params
            ),
        )
        if reply.status == 200 and reply.body["next_cursor"] and self.rng.random() < 0.3:
            await self.timed(
                "read_deep",
                self.api.call(
                    "feedread",
                    "GET",
                    f"/v1/users/{user}/feed",
                    as_=(user, "user"),
                    params={**params, "cursor": reply.body["next_cursor"]},
                ),
            )

    async def publish(self) -> None:
        candidates = [op for op, left in self.quota_left.items() if left > 0]
        if not candidates:
            self.rec.dropped["publish_quota"] += 1
            return
        weights = [self.world.follower_count(op) + 1 for op in candidates]
        author = self.rng.choices(candidates, weights)[0]
        self.quota_left[author] -= 1
        text = " ".join(f"{self.rng.randrange(10**9):x}" for _ in range(6))
        reply = await self.timed(
            "publish",
            self.api.call(
                "publishing",
                "POST",
                f"/v1/accounts/{author}/posts",
                as_=(author, "user"),
                json={"kind": "article", "title": f"新品 {text[:20]}", "body": text},
            ),
        )
        published = time.perf_counter()
        followers = self.world.followers.get(author, [])
        if reply.status != 201 or not followers:
            return
        reader = self.rng.choice(followers)
        while time.perf_counter() - published < VISIBLE_DEADLINE_S:
            if await self.in_feed(reader, reply.body["id"]):
                self.rec.visible[bucket(len(followers))].append(
                    (time.perf_counter() - published) * 1000
                )
                return
            await asyncio.sleep(0.05)
        self.rec.invisible.append(reply.body["id"])

    async def in_feed(self, reader: str, post_id: str) -> bool:
        """Whether the post is in the reader's feed: pages on until it is found or the
        pages reach older posts (snowflake ids sort by time), so a post pushed past the
        first page by newer ones still counts as visible."""
        params: dict[str, str] = {}
        while True:
            page = await self.api.call(
                "feedread",
                "GET",
                f"/v1/users/{reader}/feed",
                as_=(reader, "user"),
                params=params or None,
            )
            if page.status != 200:
                return False
            ids = [int(item["post"]["id"]) for item in page.body["items"]]
            if int(post_id) in ids:
                return True
            cursor = page.body.get("next_cursor")
            if not cursor or any(i < int(post_id) for i in ids):
                return False
            params = {"cursor": cursor}

    async def follow(self) -> None:
        user = self.rng.choice(self.world.consumers)
        account = self.rng.choice(self.world.operators)
        method = "PUT" if self.rng.random() < 0.7 else "DELETE"
        await self.timed(
            "follow",
            self.api.call(
                "accounts", method, f"/v1/users/{user}/following/{account}", as_=(user, "user")
            ),
        )

    def engagement(self, user: str) -> dict[str, Any]:
        """One event of `user` with an operator drawn by popularity."""
        kind = self.rng.choices(list(ENGAGEMENT), list(ENGAGEMENT.values()))[0]
        account = self.rng.choices(self.world.operators, self.popularity)[0]
        event: dict[str, Any] = {"type": kind, "user_id": user, "account_id": account}
        if kind in ("view", "dwell"):
            event["dwell_ms"] = int(self.rng.lognormvariate(9, 1))  # median ~8 s
        if kind == "purchase":
            event["order_id"] = f"h{secrets.token_hex(8)}"
            event["amount_cents"] = self.rng.randint(*PURCHASE_CENTS)
        return event

    async def engage(self) -> None:
        user = self.rng.choice(self.readers)
        events = [self.engagement(user) for _ in range(10)]
        await self.timed(
            "events",
            self.api.call(
                "feedread", "POST", "/v1/events", as_=(user, "user"), json={"events": events}
            ),
        )

    async def run(self) -> None:
        s = self.scenario
        await asyncio.gather(
            self.open_loop("read", s.reads_per_s, self.read),
            self.open_loop("publish", s.publishes_per_s, self.publish),
            self.open_loop("follow", s.follows_per_s, self.follow),
            self.open_loop("events", s.events_per_s, self.engage),
        )


async def sample_system(api: WeitaoClient, rec: Recorder, stop: asyncio.Event, env: Env) -> None:
    """Once a second: rates, read latency, fan-out deliveries and lag, Redis memory."""
    from bench.resources import Resources

    resources = Resources(env)
    try:
        await _sample_until(api, rec, stop, resources)
    finally:
        await resources.close()


async def _sample_until(
    api: WeitaoClient, rec: Recorder, stop: asyncio.Event, resources: Any
) -> None:
    last_reads = 0
    while not stop.is_set():
        await asyncio.sleep(1.0)
        now = time.perf_counter() - rec.started
        reads = rec.latencies["read"]
        recent = [ms for t, ms in reads if t > now - 1.0]
        stats = await api.call("fanout", "GET", "/v1/admin/stats", as_=("harness", "staff"))
        lag = (
            sum(sum(p.values()) for p in stats.body["consumer_lag"].values())
            if stats.status == 200
            else None
        )
        point = {
            "t": round(now, 1),
            "reads_per_s": len(reads) - last_reads,
            "read_p50_ms": statistics.median(recent) if recent else None,
            "read_p99_ms": sorted(recent)[int(0.99 * (len(recent) - 1))] if recent else None,
            "deliveries": stats.body.get("deliveries") if stats.status == 200 else None,
            "fanout_lag": lag,
            **await resources.sample(),
        }
        last_reads = len(reads)
        rec.timeline.append(point)
        print(
            f"[harness] t={point['t']:>5}s reads/s={point['reads_per_s']:>4} "
            f"p50={point['read_p50_ms'] or 0:6.1f}ms p99={point['read_p99_ms'] or 0:6.1f}ms "
            f"lag={lag} deliveries={point['deliveries']}",
            flush=True,
        )


async def storage(env: Env, world: World) -> dict[str, Any]:
    """Postgres and Kafka sizes, and Redis bytes per stored feed entry (sampled feeds)."""
    from bench.resources import Resources

    resources = Resources(env)
    try:
        sizes = await resources.sizes()
        used, entries = 0, 0
        for user in world.consumers[:200]:
            count = await resources.redis.llen(feed_key(user))
            if count:
                used += await resources.redis.memory_usage(feed_key(user)) or 0
                entries += count
        sizes["redis_bytes_per_feed_entry"] = used / entries if entries else None
        return sizes
    finally:
        await resources.close()


async def insights_handled(api: WeitaoClient) -> float:
    """Events insights' consumer has handled since it started (its /metrics)."""
    async with api.session.get(api.urls["insights"] + "/metrics") as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("consumer_events_total{")
        and 'group="insights"' in line
        and 'outcome="handled"' in line
    )


async def flagged_followers(api: WeitaoClient, account: str) -> set[str]:
    """The followers insights flagged as bought for one account (every page)."""
    users: set[str] = set()
    params = {"account_id": account, "limit": "100"}
    while True:
        reply = await api.call(
            "insights", "GET", "/v1/admin/suspicious", as_=("harness", "staff"), params=params
        )
        body = reply.expect(200)
        users.update(item["user_id"] for item in body["items"])
        if not body["next_cursor"]:
            return users
        params = {**params, "cursor": body["next_cursor"]}


async def insights_report(
    api: WeitaoClient, world: World, burst: BoughtBurst, ingested: float, seconds: float
) -> dict[str, Any]:
    """Insights as the world left it: the ingestion rate during the runs, the official
    list, and the flagged followers — the bought burst (waited for) and the organic ones."""
    bought = set(burst.followers)
    deadline = time.perf_counter() + JUDGE_DEADLINE_S
    while not bought <= (flagged := await flagged_followers(api, burst.account)):
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(1.0)
    organic = set(world.consumers)
    organic_flagged = len(flagged & organic)
    for account in world.operators:
        if account != burst.account:
            organic_flagged += len(await flagged_followers(api, account) & organic)
    official = await api.call(
        "insights",
        "GET",
        "/v1/recommendations/official",
        as_=("harness", "service"),
        params={"limit": str(OFFICIAL_SHOWN)},
    )
    return {
        "ingested_events_per_s": ingested / seconds if seconds else None,
        "official": [
            {
                "account": item["account"]["handle"],
                "category": item["account"]["category"],
                "score": item["score"],
            }
            for item in official.expect(200)["items"]
        ],
        "bought_followers": len(bought),
        "bought_flagged": len(bought & flagged),
        "organic_follows": world.follows,
        "organic_followers_flagged": organic_flagged,
    }


def insights_summary(figures: dict[str, Any]) -> str:
    """The insights part of the report, in Markdown."""
    rate = figures["ingested_events_per_s"]
    lines = [
        "",
        "Insights: "
        f"{rate:,.0f} events/s ingested during the runs; "
        f"bought followers flagged {figures['bought_flagged']} of "
        f"{figures['bought_followers']}; organic followers flagged "
        f"{figures['organic_followers_flagged']} (of {figures['organic_follows']:,} follows).",
        "",
        "| official rank | account | category | score |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {o['account']} | {o['category']} | {o['score']:.3f} |"
        for n, o in enumerate(figures["official"], 1)
    ]
    return "\n".join(lines)


async def run_scenario(
    scenario: Scenario, env: Env, runs: int = 1, ceilings: bool = True
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        started = time.perf_counter()
        world = await build(api, scenario.world, say=lambda m: print(f"[harness] {m}"))
        build_s = time.perf_counter() - started
        print(f"[harness] world: {world.follows:,} follows in {build_s:.1f} s")
        settled = await settle(
            env.str("WEITAO_KAFKA_BOOTSTRAP"), say=lambda m: print(f"[harness] {m}")
        )
        print(f"[harness] projections settled {settled:.1f} s after the world was built")
        burst = await buy_followers(api, world, scenario.bought_followers, scenario.world.seed)
        print(f"[harness] {len(burst.followers)} bought followers of {burst.account}")
        results = []
        quota_left = {op: 3 for op in world.operators}
        handled_before, runs_started = await insights_handled(api), time.perf_counter()
        for run in range(runs):
            rec = Recorder()
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_system(api, rec, stop, env))
            await Driver(api, world, scenario, rec, scenario.world.seed + run, quota_left).run()
            stop.set()
            await sampler
            results.append(report.summarize(rec))
        ingested = await insights_handled(api) - handled_before
        insights = await insights_report(
            api, world, burst, ingested, time.perf_counter() - runs_started
        )
        print(f"[harness] {insights_summary(insights)}")
        out = {
            "scenario": asdict(scenario),
            "world_build_s": build_s,
            "settle_s": settled,
            "world_follows": world.follows,
            "runs": results,
            "insights": insights,
            "timeline": rec.timeline,
            "raw_latencies": dict(rec.latencies),
        }
        out["storage"] = await storage(env, world)
        if ceilings:
            from bench.ceilings import measure

            out["ceilings"] = await measure(api, env, world)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="smoke")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--consumers", type=int, help="override the scenario's world")
    parser.add_argument("--operators", type=int, help="override the scenario's world")
    parser.add_argument("--duration", type=float, help="seconds per run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--doc", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args()
    scenario = SCENARIOS[args.scenario]
    world = replace(
        scenario.world,
        **{k: v for k, v in (("consumers", args.consumers), ("operators", args.operators)) if v},
    )
    scenario = replace(scenario, world=world, duration_s=args.duration or scenario.duration_s)
    result = asyncio.run(run_scenario(scenario, Env.from_os(), args.runs))
    args.out.mkdir(exist_ok=True)
    (args.out / f"harness-{args.scenario}.json").write_bytes(
        orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    summary = report.write(result, args.out, args.scenario) + insights_summary(result["insights"])
    print(summary)
    if args.doc:
        report.update_doc(summary, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
