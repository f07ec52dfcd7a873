"""The harness's report: figures per run, a Markdown summary, and PNG plots."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench-harness:begin -->", "<!-- bench-harness:end -->"


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(rec: Any) -> dict[str, Any]:
    """One run's figures: per request kind and per follower bucket of the author."""
    elapsed = max(1e-9, max((t for lat in rec.latencies.values() for t, _ in lat), default=1))
    kinds = {}
    for kind, samples in rec.latencies.items():
        ms = [m for _, m in samples]
        statuses = {str(s): n for (k, s), n in rec.statuses.items() if k == kind}
        kinds[kind] = {
            "count": len(ms),
            "per_s": len(ms) / elapsed,
            "p50_ms": quantile(ms, 0.5),
            "p99_ms": quantile(ms, 0.99),
            "p999_ms": quantile(ms, 0.999),
            "statuses": statuses,
            "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")),
        }
    visible = {
        b: {
            "count": len(v),
            "p50_ms": quantile(v, 0.5),
            "p90_ms": quantile(v, 0.9),
            "p99_ms": quantile(v, 0.99),
            "max_ms": max(v),
        }
        for b, v in sorted(rec.visible.items())
    }
    return {
        "requests": kinds,
        "publish_to_visible": visible,
        "never_visible": list(rec.invisible),
        "dropped": dict(rec.dropped),
    }


def _median(runs: list[dict], path: tuple[str, ...]) -> float | None:
    values = []
    for run in runs:
        node: Any = run
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int | float):
            values.append(node)
    return statistics.median(values) if values else None


def markdown(result: dict[str, Any], name: str) -> str:
    runs = result["runs"]
    c = result.get("ceilings", {})
    reads = _median(runs, ("requests", "read", "per_s"))
    lines = [
        f"Command: `python -m bench.harness --scenario {name} --runs {len(runs)}` · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · medians of {len(runs)} runs · "
        f"world: {result['scenario']['world']['consumers']:,} consumers, "
        f"{result['scenario']['world']['operators']:,} operators, "
        f"{result['world_follows']:,} follows built in {result['world_build_s']:.0f} s "
        f"(consumers caught up {result['settle_s']:.0f} s later)",
        "",
        "| requests (open loop) | per s | p50 ms | p99 ms | p99.9 ms | 5xx |",
        "|---|---|---|---|---|---|",
    ]
    for kind in sorted(runs[0]["requests"]):
        f = [
            _median(runs, ("requests", kind, k))
            for k in ("per_s", "p50_ms", "p99_ms", "p999_ms", "server_errors")
        ]
        lines.append(
            f"| {kind} | {f[0] or 0:.1f} | {f[1] or 0:.1f} | {f[2] or 0:.1f} | "
            f"{f[3] or 0:.1f} | {f[4] or 0:.0f} |"
        )
    lines += [
        "",
        "| publish -> visible, by author's followers | posts | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for b in sorted(runs[0]["publish_to_visible"]):
        f = [
            _median(runs, ("publish_to_visible", b, k))
            for k in ("count", "p50_ms", "p90_ms", "p99_ms", "max_ms")
        ]
        lines.append(f"| {b} | {f[0]:.0f} | {f[1]:.0f} | {f[2]:.0f} | {f[3]:.0f} | {f[4]:.0f} |")
    never = sum(len(r["never_visible"]) for r in runs)
    lines += ["", f"Sampled posts never visible within 15 s: {never}."]
    storage = result.get("storage", {})
    if storage:
        per_entry = storage.get("redis_bytes_per_feed_entry")
        lines.append(
            f"Storage after the runs: Postgres {storage.get('postgres_mb', '?')} MB, Kafka "
            f"{storage.get('kafka_mb', '?')} MB, Redis "
            f"{per_entry:.0f} bytes per stored feed entry (sampled feeds)."
            if per_entry
            else f"Storage after the runs: {storage}."
        )
    if c:
        lines += [
            "",
            "| ceiling, same run | per s | Weitao | ratio |",
            "|---|---|---|---|",
            f"| raw Redis push loop (deliveries) | {c['redis_push_deliveries_per_s']:,.0f} | | |",
            f"| raw aiokafka produce / consume | {c['kafka_produce_per_s']:,.0f} / "
            f"{c['kafka_consume_per_s']:,.0f} | | |",
        ]
        if reads:
            lines.append(
                f"\nOpen-loop reads served: {reads:.0f}/s (target "
                f"{result['scenario']['reads_per_s']}/s)."
            )
    return "\n".join(lines)


def plots(result: dict[str, Any], out: Path, name: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    reads = result["raw_latencies"].get("read", [])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.scatter([t for t, _ in reads], [m for _, m in reads], s=2, alpha=0.4)
    ax.set(
        xlabel="seconds into the last run",
        ylabel="feed read latency (ms)",
        title=f"{name}: feed read latency over time",
    )
    made.append(out / f"{name}-latency-over-time.png")
    fig.savefig(made[-1], dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    for kind, samples in sorted(result["raw_latencies"].items()):
        if samples:
            ax.hist([m for _, m in samples], bins=50, alpha=0.5, label=kind, log=True)
    ax.set(xlabel="latency (ms)", ylabel="requests", title=f"{name}: latency distribution")
    ax.legend()
    made.append(out / f"{name}-latency-distribution.png")
    fig.savefig(made[-1], dpi=100)
    timeline = result["timeline"]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([p["t"] for p in timeline], [p["reads_per_s"] for p in timeline], label="reads/s")
    deliveries = [p.get("deliveries") or 0 for p in timeline]
    ax.plot(
        [p["t"] for p in timeline],
        [b - a for a, b in zip([deliveries[0], *deliveries], deliveries, strict=False)],
        label="feed deliveries/s",
    )
    ax2 = ax.twinx()
    ax2.plot(
        [p["t"] for p in timeline],
        [p.get("fanout_lag") or 0 for p in timeline],
        color="red",
        label="fanout consumer lag",
    )
    ax.set(xlabel="seconds into the last run", title=f"{name}: throughput and lag")
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    made.append(out / f"{name}-throughput-and-lag.png")
    fig.savefig(made[-1], dpi=100)
    plt.close("all")
    return made


def write(result: dict[str, Any], out: Path, name: str) -> str:
    summary = markdown(result, name)
    (out / f"harness-{name}.md").write_text(summary + "\n")
    for path in plots(result, out, name):
        print(f"[harness] plot: {path}")
    return summary


def update_doc(summary: str, doc: Path) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if BEGIN not in text:
        text += f"\n## The load harness (`make bench`)\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{BEGIN}\n{summary}\n{END}{tail}")
