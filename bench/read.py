"""`make bench-read`: feed-read capacity and latency of one feedread process, measured from
outside the server process and outside Python, beside ceilings measured in the same run
with the same load generator (docs/benchmarks.md, issue 10).

Saturation: `wrk -t2 -c64` rotating 200 readers and their tokens, for the first page, a
deeper page (a cursor 5 pages in) and a category page; the same against a bare aiohttp
process doing ZREVRANGE 0 19 + MGET of 20 bodies on the same Redis, and one returning a
fixed page with no I/O. Latency: `vegeta` at a constant rate of half the bare Redis
handler's saturation rate, open loop, per page kind. 3 runs each; medians reported."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.exceptions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import read_report  # noqa: E402
from bench.client import WeitaoClient  # noqa: E402
from bench.read_world import CATEGORY, Builder, ReadWorld, build  # noqa: E402
from bench.stack import BESIDE_THE_MEASURED, paused  # noqa: E402
from shared.config import Env  # noqa: E402
from shared.feedstore.keys import feed_key  # noqa: E402
from shared.redis_cluster import connect  # noqa: E402

OUT = ROOT / "bench-out"
WORLD_FILE = OUT / "read-world.json"
VEGETA = ROOT / ".run" / "bin" / "vegeta"
LUA = ROOT / "bench" / "wrk" / "rotate.lua"
CEILING_PORTS = {"redis": 18971, "fixed": 18972}
READERS = 200
DEEP_PAGES = 5
KINDS = ("first", "deeper", "category")
# Open-loop rates (req/s) first pages are also measured at, below half the bare handler's.
LATENCY_RATES = (250, 500, 1000, 1500, 2000)
SETTLE_S = 3.0  # a pause after each open-loop attack (bench.read.settled)


def say(message: str) -> None:
    print(f"[bench-read] {message}", flush=True)


async def targets(api: WeitaoClient, world: ReadWorld) -> dict[str, list[tuple[str, str]]]:
    """Per page kind, (path, token) of every reader; deeper pages follow real cursors."""
    kinds: dict[str, list[tuple[str, str]]] = {kind: [] for kind in KINDS}
    for reader in world.readers:
        token = api.token(reader, "user")
        base = f"/v1/users/{reader}/feed?limit=20"
        cursor = None
        for _ in range(DEEP_PAGES):
            cursor = (await api.feed(reader, limit=20, **({"cursor": cursor} if cursor else {})))[
                "next_cursor"
            ]
        kinds["first"].append((base, token))
        kinds["deeper"].append((f"{base}&cursor={cursor}", token))
        kinds["category"].append((f"{base}&category={CATEGORY}", token))
    return kinds


def wrk(
    port: int, lines: list[tuple[str, str]], seconds: int, connections: int = 64, name: str = "wrk"
) -> dict[str, float]:
    """Saturation by wrk -t2 -c`connections`; req/s, p50/p99 ms and the non-2xx count.
    The targets go to bench-out/`name`-targets.txt."""
    file = OUT / f"{name}-targets.txt"
    file.write_text("".join(f"{path}\t{token}\n" for path, token in lines))
    run = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA),
         f"http://127.0.0.1:{port}", "--", str(file)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return read_report.parse_wrk(run.stdout)


def vegeta(
    port: int, lines: list[tuple[str, str]], rate: int, seconds: int, name: str = "vegeta"
) -> dict[str, float]:
    """Open loop at `rate` req/s for `seconds`; p50/p99/max ms and the non-2xx count.
    The targets go to bench-out/`name`-targets.txt."""
    file = OUT / f"{name}-targets.txt"
    file.write_text(
        "".join(
            f"GET http://127.0.0.1:{port}{path}\nAuthorization: Bearer {token}\n\n"
            for path, token in lines
        )
    )
    attack = subprocess.run(
        [str(VEGETA), "attack", f"-rate={rate}/s", f"-duration={seconds}s",
         f"-targets={file}", "-format=http", "-timeout=5s"],
        check=True, capture_output=True,
    )  # fmt: skip
    report = subprocess.run(
        [str(VEGETA), "report", "-type=json"],
        input=attack.stdout, check=True, capture_output=True,
    )  # fmt: skip
    return read_report.parse_vegeta(json.loads(report.stdout))


def settled(found: dict[str, float]) -> dict[str, float]:
    """`found`, once the server has had SETTLE_S to finish what an attack left queued:
    aiohttp goes on serving requests whose client gave up, and the next attack (on
    another server, on the same cores) would pay for them."""
    time.sleep(SETTLE_S)
    return found


def start_ceilings(fixed_body: bytes) -> list[subprocess.Popen]:
    body = OUT / "fixed-page.json"
    body.write_bytes(fixed_body)
    python = [sys.executable, "-m", "bench.read_ceiling"]
    return [
        subprocess.Popen([*python, "redis", str(CEILING_PORTS["redis"])], cwd=ROOT),
        subprocess.Popen(
            [*python, "fixed", str(CEILING_PORTS["fixed"]), "--body", str(body)], cwd=ROOT
        ),
    ]


async def ceilings_up(
    session: aiohttp.ClientSession, ports: Iterable[int] = CEILING_PORTS.values()
) -> None:
    """Waits (up to 10 s) until a ceiling process answers on each port."""
    for _ in range(100):
        try:
            for port in ports:
                async with session.get(f"http://127.0.0.1:{port}/v1/users/1/feed") as resp:
                    await resp.read()
            return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the ceiling processes did not start")


async def world_of(api: WeitaoClient, builder: Builder, env: Env, rebuild: bool) -> ReadWorld:
    """The world of an earlier run while its feeds are still full; else a new one."""
    if WORLD_FILE.exists() and not rebuild:
        world = ReadWorld(**orjson.loads(WORLD_FILE.read_bytes()))
        try:
            sizes = [await builder.redis.llen(feed_key(r)) for r in world.readers]
        except redis.exceptions.ResponseError:  # feeds of a run before feeds were packed
            sizes = [0]
        if min(sizes) >= 800:
            await builder.mark_active(world.readers)
            say(f"reusing the world of {WORLD_FILE.relative_to(ROOT)} (--rebuild for a new one)")
            return world
    say(f"building the world: {READERS} readers, full feeds")
    world = await build(builder, READERS, env.int("WEITAO_PULL_THRESHOLD"), say)
    WORLD_FILE.write_bytes(orjson.dumps(world.__dict__))
    return world


async def bytes_per_entry(redis, readers: list[str]) -> float:
    """Median MEMORY USAGE / LLEN (entries) over the readers' full feeds."""
    per_entry = []
    for reader in readers[:20]:
        key = feed_key(reader)
        per_entry.append(await redis.memory_usage(key, samples=0) / await redis.llen(key))
    return statistics.median(per_entry)


async def main(args: argparse.Namespace) -> None:
    env = Env.from_os()
    OUT.mkdir(exist_ok=True)
    redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
    async with aiohttp.ClientSession() as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        builder = Builder(
            api, redis, env.str("WEITAO_KAFKA_BOOTSTRAP"), env.str("WEITAO_POSTGRES_DSN")
        )
        world = await world_of(api, builder, env, args.rebuild)
        pages = await targets(api, world)
        first = pages["first"][0]
        fixed = await session.get(
            api.urls["feedread"] + first[0], headers={"Authorization": f"Bearer {first[1]}"}
        )
        processes = start_ceilings(await fixed.read())
        try:
            await ceilings_up(session)
            with paused(*BESIDE_THE_MEASURED):
                results = measure(int(api.urls["feedread"].rsplit(":", 1)[1]), pages, args)
        finally:
            for process in processes:
                process.terminate()
                process.wait()
        results["bytes_per_entry_at_800"] = await bytes_per_entry(redis, world.readers)
    await redis.aclose()
    results["label"] = args.label
    (OUT / f"read-{args.label}.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(read_report.table(results))
    read_report.write_doc(results, ROOT)


def measure(feedread_port: int, pages: dict, args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {}
    for run in range(args.runs):
        say(f"run {run + 1}/{args.runs}: wrk saturation, {args.seconds} s each")
        for kind in KINDS:
            runs.setdefault(f"feedread {kind}", []).append(
                wrk(feedread_port, pages[kind], args.seconds)
            )
        for name, port in CEILING_PORTS.items():
            runs.setdefault(f"bare {name}", []).append(wrk(port, pages["first"], args.seconds))
    saturation = {name: read_report.medians(r) for name, r in runs.items()}
    rate = max(1, round(saturation["bare redis"]["rps"] / 2))
    targets = {f"feedread {k}": (feedread_port, pages[k]) for k in KINDS} | {
        f"bare {name}": (port, pages["first"]) for name, port in CEILING_PORTS.items()
    }
    # First pages at rising rates, before any rate that queues: the rate up to which each
    # meets its latency.
    rates = [r for r in LATENCY_RATES if r < rate]
    say(f"vegeta open loop, first pages, at {', '.join(map(str, rates))} req/s")
    by_rate: dict[str, dict[str, list[dict[str, float]]]] = {}
    for _ in range(args.runs):
        for each in rates:
            for name in ("feedread first", "bare redis"):
                port, lines = targets[name]
                found = settled(vegeta(port, lines, each, args.vegeta_seconds))
                by_rate.setdefault(str(each), {}).setdefault(name, []).append(found)
    say(f"vegeta open loop at {rate} req/s (half the bare Redis handler's saturation)")
    # The ceilings under the same open loop: what this machine allows at that rate.
    latency: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for name, (port, lines) in targets.items():
            found = settled(vegeta(port, lines, rate, args.vegeta_seconds))
            latency.setdefault(name, []).append(found)
    return {
        "saturation": saturation,
        "saturation_runs": runs,
        "open_loop_rate": rate,
        "open_loop": {name: read_report.medians(r) for name, r in latency.items()},
        "open_loop_by_rate": {
            each: {name: read_report.medians(r) for name, r in found.items()}
            for each, found in by_rate.items()
        },
        "machine": read_report.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": args.runs,
        "seconds": args.seconds,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--vegeta-seconds", type=int, default=5, help="per vegeta run")
    parser.add_argument("--label", default="latest", help="names bench-out/read-LABEL.json")
    parser.add_argument("--rebuild", action="store_true", help="a new world even if one is kept")
    arguments = parser.parse_args()
    subprocess.run([str(ROOT / "deploy" / "tools.sh")], check=True)
    asyncio.run(main(arguments))
