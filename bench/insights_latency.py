"""`make bench-insights`: latency and capacity of the running insights process measured from
outside it (issue 11: the official list's p99 ≤ 20 ms), beside a fixed-body ceiling in the
same run with the same load generators (docs/benchmarks.md, "insights-ingest" section).

Endpoints: `GET /v1/recommendations/official?limit=20` as a `service` caller and as a `user`
who follows the top 5 of that list (so the follows lookup and the filtering are on the
path), and `GET /v1/accounts/{id}/stats?days=7` rotating over the listed accounts, each
read by its owner. The ceiling is `bench.read_ceiling fixed` serving the service caller's
official body with no I/O: what wrk, vegeta, aiohttp and this machine cost on their own.
Saturation: `wrk -t2 -c32`; latency: `vegeta` open loop at a constant rate (200 req/s, or
half the endpoint's saturation where lower). 3 runs each, medians reported."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import read_report  # noqa: E402
from bench.client import WeitaoClient  # noqa: E402
from bench.doc import replace_section  # noqa: E402
from bench.read import OUT, ceilings_up, vegeta, wrk  # noqa: E402
from shared.config import Env  # noqa: E402

CEILING_PORT = 18973
CEILING_PATH = "/v1/users/1/feed"  # the only route bench.read_ceiling serves
OFFICIAL = "/v1/recommendations/official?limit=20"
FOLLOWED = 5
GOAL_P99_MS = 20.0
BEGIN, END = "<!-- insights-latency:begin -->", "<!-- insights-latency:end -->"
SECTION_END = "<!-- insights-ingest:end -->"
Target = list[tuple[str, str]]  # (path, token) lines, rotated by the load generators


def say(message: str) -> None:
    print(f"[bench-insights] {message}", flush=True)


async def official_reader(api: WeitaoClient, top: list[str]) -> str:
    """A new consumer following the top accounts of the list, once insights has seen the
    follows (the user's list no longer shows them)."""
    user = (await api.create_account(f"ilat_{secrets.token_hex(6)}"))["id"]
    for account in top:
        await api.follow(user, account)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = await api.call("insights", "GET", OFFICIAL, as_=(user, "user"))
        shown = {item["account"]["id"] for item in reply.expect(200)["items"]}
        if not shown & set(top):
            return user
        await asyncio.sleep(0.2)
    raise RuntimeError("insights did not see the reader's follows within 30 s")


async def targets(api: WeitaoClient) -> tuple[dict[str, Target], bytes]:
    """The endpoints' (path, token) lines, and the service caller's official body."""
    service = api.token("gateway", "service")
    async with api.session.get(
        api.urls["insights"] + OFFICIAL, headers={"Authorization": f"Bearer {service}"}
    ) as resp:
        body = await resp.read()
    accounts = [item["account"]["id"] for item in orjson.loads(body)["items"]]
    if len(accounts) <= FOLLOWED:
        raise RuntimeError("the official list is too short: run the harness (make bench) first")
    user = await official_reader(api, accounts[:FOLLOWED])
    say(f"reader {user} follows {FOLLOWED} listed accounts; stats of {len(accounts)} accounts")
    return {
        "official, service": [(OFFICIAL, service)],
        "official, user": [(OFFICIAL, api.token(user, "user"))],
        "stats days=7, owner": [
            (f"/v1/accounts/{a}/stats?days=7", api.token(a, "user")) for a in accounts
        ],
        "ceiling (fixed body)": [(CEILING_PATH, service)],
    }, body


def measure(insights_port: int, lines: dict[str, Target], args: argparse.Namespace) -> dict:
    """Medians of `args.runs` wrk runs per target, then of `args.runs` vegeta runs at the
    rate, lowered to half the target's saturation where that is lower (an open loop past
    what the process sustains measures its queue, not its service time)."""
    port = {name: CEILING_PORT if name.startswith("ceiling") else insights_port for name in lines}
    saturation: dict[str, list[dict[str, float]]] = {name: [] for name in lines}
    open_loop: dict[str, list[dict[str, float]]] = {name: [] for name in lines}
    for run in range(args.runs):
        say(f"run {run + 1}/{args.runs}: wrk -t2 -c32, {args.seconds} s a target")
        for name, target in lines.items():
            figures = wrk(port[name], target, args.seconds, connections=32, name="insights-wrk")
            saturation[name].append(figures)
    capacity = {name: read_report.medians(r) for name, r in saturation.items()}
    rate = {name: min(args.rate, round(capacity[name]["rps"] / 2)) for name in lines}
    for run in range(args.runs):
        say(f"run {run + 1}/{args.runs}: vegeta at {rate}/s, {args.seconds} s a target")
        for name, target in lines.items():
            figures = vegeta(port[name], target, rate[name], args.seconds, name="insights-vegeta")
            open_loop[name].append(figures)
    return {
        "rate": rate,
        "saturation": capacity,
        "open_loop": {name: read_report.medians(r) for name, r in open_loop.items()},
        "runs_saturation": saturation,
        "runs_open_loop": open_loop,
    }


def table(r: dict[str, Any]) -> str:
    ceiling_rps = r["saturation"]["ceiling (fixed body)"]["rps"]
    lines = [
        "| endpoint | vegeta req/s | p50 ms | p99 ms | max ms | non-2xx or errors "
        f"| p99 ≤ {GOAL_P99_MS:.0f} ms | wrk -t2 -c32 req/s | ratio to ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, x in r["open_loop"].items():
        s = r["saturation"][name]
        met = "yes" if x["p99_ms"] <= GOAL_P99_MS else "**no**"
        met = "(floor)" if name.startswith("ceiling") else met
        lines.append(
            f"| {name} | {r['rate'][name]} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} "
            f"| {x['max_ms']:.1f} "
            f"| {x['non_2xx'] + s['non_2xx']:.0f} | {met} | {s['rps']:,.0f} "
            f"| {s['rps'] / ceiling_rps:.3f} |"
        )
    return "\n".join(lines)


def section(r: dict[str, Any]) -> str:
    m = r["machine"]
    load = " (above 4: figures pessimistic)" if r["load_at_start"] > 4 else ""
    return "\n".join(
        [
            BEGIN,
            "",
            "### Insights reads from outside (`make bench-insights`)",
            "",
            f"Command: `make bench-insights` (`bench/insights_latency.py`) · {m['nproc']} cores "
            f"({m['cpu']}), load average {r['load_at_start']:.2f} at start{load} and "
            f"{r['load_at_end']:.2f} at the end, the whole "
            f"local stack running beside it · {r['when']} · medians of {r['runs']} runs of "
            f"{r['seconds']} s; non-2xx summed over all runs of both generators.",
            "",
            table(r),
            "",
            f"Open-loop rate: {r['requested_rate']} req/s, or half the endpoint's wrk saturation "
            "where that is lower (an open loop past saturation measures the queue, not the "
            "service); max is the median of the runs' maxima. The ceiling is "
            "`bench.read_ceiling fixed` returning the official body with no I/O: its p99 is "
            "the floor wrk, vegeta, aiohttp and this shared 2-core "
            "machine impose. The user reader follows the list's top 5 accounts (a Postgres "
            "lookup on the path); stats rotate over the listed accounts, each read by its owner.",
            "",
            END,
        ]
    )


def write_doc(r: dict[str, Any]) -> None:
    """Replaces this bench's part of the insights section of docs/benchmarks.md."""
    replace_section(BEGIN, END, section(r), _in_the_insights_section)


def _in_the_insights_section(text: str, section: str) -> str:
    head, _, rest = text.partition(SECTION_END)
    return head + section + "\n" + SECTION_END + rest


async def main(args: argparse.Namespace) -> None:
    env = Env.from_os()
    OUT.mkdir(exist_ok=True)
    load = os.getloadavg()[0]
    say(f"load average at start {load:.2f} on {os.cpu_count()} cores")
    async with aiohttp.ClientSession() as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        lines, body = await targets(api)
        (OUT / "insights-official.json").write_bytes(body)
        ceiling = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.read_ceiling", "fixed", str(CEILING_PORT),
            "--body", str(OUT / "insights-official.json"), cwd=ROOT,
        )  # fmt: skip
        try:
            await ceilings_up(session, [CEILING_PORT])
            results = measure(int(api.urls["insights"].rsplit(":", 1)[1]), lines, args)
        finally:
            ceiling.terminate()
            await ceiling.wait()
    results |= {
        "requested_rate": args.rate,
        "runs": args.runs,
        "seconds": args.seconds,
        "load_at_start": load,
        "load_at_end": os.getloadavg()[0],
        "machine": read_report.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (OUT / "insights-latency.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(table(results))
    if args.doc:
        write_doc(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per vegeta and per wrk run")
    parser.add_argument("--rate", type=int, default=200, help="vegeta's constant req/s")
    parser.add_argument("--doc", action="store_true", help="write docs/benchmarks.md")
    arguments = parser.parse_args()
    subprocess.run([str(ROOT / "deploy" / "tools.sh")], check=True)
    asyncio.run(main(arguments))
