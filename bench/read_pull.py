"""`make bench-read-pull`: what one feed page costs as the number of pulled sources a
reader follows grows (5, 50, 500), measured from outside like `make bench-read` (issue 10).

World (bench/read_pull_world.py): 500 pulled accounts with ~40 posts each, and readers
following 5, 50 or 500 of them. Per group and page kind (first page; a deeper page by a
real cursor 5 pages in): `wrk -t2 -c16` saturation (1 / req/s is what a page costs the
server), then `vegeta` open loop at a low constant rate (at most half that saturation, so
requests do not queue): p50/p99 of one page. In the same run, the bare Redis handler of
bench/read_ceiling.py (one LRANGE + MGET of 20 on the bench-read world's full feeds) for
scale. Medians of `--runs`; `--doc` writes the table and plot into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import read_pull_report, read_report  # noqa: E402
from bench.client import WeitaoClient  # noqa: E402
from bench.read import OUT, ceilings_up, targets, vegeta, world_of, wrk  # noqa: E402
from bench.read_pull_world import GROUPS, PullWorld, all_pulled, pull_world  # noqa: E402
from bench.read_world import Builder, ReadWorld  # noqa: E402
from bench.stack import BESIDE_THE_MEASURED, paused  # noqa: E402
from shared.config import Env  # noqa: E402
from shared.redis_cluster import connect  # noqa: E402

KINDS = ("first", "deeper")
CONNECTIONS = 16  # few: a page of 500 sources is slow, 64 connections would only queue
CEILING_PORT = 18973  # its own: bench-read's ceilings (18971, 18972) may be up meanwhile


def say(message: str) -> None:
    print(f"[bench-read-pull] {message}", flush=True)


async def running_threshold(api: WeitaoClient) -> int:
    """The pull threshold the running fanout uses (its admin stats)."""
    reply = await api.call("fanout", "GET", "/v1/admin/stats", as_=("bench", "staff"))
    return int(reply.expect(200)["pull_threshold"])


async def group_pages(api: WeitaoClient, world: PullWorld) -> dict[str, dict[str, list]]:
    """Per group, per page kind, (path, token) of each reader; deeper pages by real cursors."""
    pages = {}
    for group, readers in world.groups.items():
        kinds = await targets(api, ReadWorld(readers, [], world.accounts))
        if any(path.endswith("cursor=None") for path, _ in kinds["deeper"]):
            raise RuntimeError(f"a reader of {group} pulled sources has under 6 pages")
        pages[group] = {kind: kinds[kind] for kind in KINDS}
    return pages


def start_bare_redis() -> subprocess.Popen:
    """bench/read_ceiling.py's bare Redis handler on this bench's port."""
    command = [sys.executable, "-m", "bench.read_ceiling", "redis", str(CEILING_PORT)]
    return subprocess.Popen(command, cwd=ROOT)


def measure(
    feedread_port: int, pages: dict, ceiling: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """wrk saturation, then vegeta at min(--rate, half that saturation), per group and page
    kind; the bare Redis handler by wrk too. Medians over --runs."""
    saturation: dict[str, list[dict[str, float]]] = {}
    latency: dict[str, list[dict[str, float]]] = {}
    rates: dict[str, int] = {}
    for run in range(args.runs):
        say(f"run {run + 1}/{args.runs}: wrk then vegeta, {args.seconds} s each")
        for group, kinds in pages.items():
            for kind, lines in kinds.items():
                name = f"{group} {kind}"
                sat = wrk(feedread_port, lines, args.seconds, CONNECTIONS, "read-pull-wrk")
                saturation.setdefault(name, []).append(sat)
                rates[name] = max(1, min(args.rate, round(sat["rps"] / 2)))
                latency.setdefault(name, []).append(
                    vegeta(feedread_port, lines, rates[name], args.seconds, "read-pull-vegeta")
                )
        bare = wrk(CEILING_PORT, ceiling, args.seconds, CONNECTIONS, "read-pull-wrk")
        saturation.setdefault("bare redis", []).append(bare)
    return {
        "saturation": {name: read_report.medians(r) for name, r in saturation.items()},
        "open_loop": {name: read_report.medians(r) for name, r in latency.items()},
        "open_loop_rates": rates,
        "saturation_runs": saturation,
        "machine": read_report.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": args.runs,
        "seconds": args.seconds,
        "connections": CONNECTIONS,
    }


async def main(args: argparse.Namespace) -> None:
    OUT.mkdir(exist_ok=True)
    env = Env.from_os()
    async with aiohttp.ClientSession() as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        # The running fanout's threshold is the environment's: restored after the build,
        # and the one bench-read's world (the ceiling's) is built for.
        os.environ["WEITAO_PULL_THRESHOLD"] = str(await running_threshold(api))
        env = Env.from_os()
        redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
        builder = Builder(
            api, redis, env.str("WEITAO_KAFKA_BOOTSTRAP"), env.str("WEITAO_POSTGRES_DSN")
        )
        world = await pull_world(builder, args.rebuild, say)
        full = await world_of(api, builder, env, rebuild=False)
        ceiling = [(f"/v1/users/{r}/feed?limit=20", api.token(r, "user")) for r in full.readers]
        pages = await group_pages(api, world)
        if not await all_pulled(redis, world.accounts):
            raise RuntimeError("some of the world's accounts left the pull set")
        bare_redis = start_bare_redis()
        try:
            await ceilings_up(session, [CEILING_PORT])
            with paused(*BESIDE_THE_MEASURED):
                feedread = int(api.urls["feedread"].rsplit(":", 1)[1])
                results = measure(feedread, pages, ceiling, args)
        finally:
            bare_redis.terminate()
            bare_redis.wait()
        await redis.aclose()
    results["label"] = args.label
    results["readers_per_group"] = len(world.groups[str(GROUPS[0])])
    out = OUT / f"read-pull-{args.label}.json"
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(read_pull_report.table(results))
    if args.doc:
        read_pull_report.write_doc(results, ROOT)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk and per vegeta run")
    parser.add_argument("--rate", type=int, default=50, help="vegeta's rate (req/s) at most")
    parser.add_argument("--label", default="latest", help="names bench-out/read-pull-LABEL.json")
    parser.add_argument("--rebuild", action="store_true", help="a new world even if one is kept")
    parser.add_argument("--doc", action="store_true", help="write docs/benchmarks.md's section")
    arguments = parser.parse_args()
    subprocess.run([str(ROOT / "deploy" / "tools.sh")], check=True)
    asyncio.run(main(arguments))
