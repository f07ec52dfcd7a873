"""Parsing wrk and vegeta output, medians, and the bench-read table, plot and doc section."""

from __future__ import annotations

import os
import platform
import re
import statistics
from pathlib import Path
from typing import Any

from bench.doc import replace_section

BEGIN, END = "<!-- bench-read:begin -->", "<!-- bench-read:end -->"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse_wrk(out: str) -> dict[str, float]:
    """req/s, p50/p99 ms and non-2xx (plus socket errors) of `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    failed += sum(int(n) for n in errors.groups()) if errors else 0
    return {"rps": rps, "p50_ms": _ms(p50), "p99_ms": _ms(p99), "non_2xx": failed}


def parse_vegeta(report: dict[str, Any]) -> dict[str, float]:
    """p50/p99/max ms and the non-2xx count of a `vegeta report -type=json`."""
    latencies = report["latencies"]
    codes = report.get("status_codes") or {}
    return {
        "p50_ms": latencies["50th"] / 1e6,
        "p99_ms": latencies["99th"] / 1e6,
        "max_ms": latencies["max"] / 1e6,
        "non_2xx": sum(n for code, n in codes.items() if not code.startswith("2")),
        "rps": report["throughput"],
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median of each figure over runs; non-2xx are summed (any one counts)."""
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "non_2xx"}
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    return out


def machine() -> dict[str, Any]:
    model = "unknown"
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else model
    return {"nproc": os.cpu_count(), "cpu": model, "platform": platform.platform()}


def table(r: dict[str, Any]) -> str:
    s, o = r["saturation"], r["open_loop"]
    redis_rps, fixed_rps = s["bare redis"]["rps"], s["bare fixed"]["rps"]
    lines = [
        f"| wrk -t2 -c64, {r['seconds']} s, median of {r['runs']} | req/s | p50 ms | p99 ms "
        "| ratio to bare Redis | non-2xx or errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, x in s.items():
        lines.append(
            f"| {name} | {x['rps']:,.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} "
            f"| **{x['rps'] / redis_rps:.2f}** | {x['non_2xx']:.0f} |"
        )
    lines += [
        "",
        f"| vegeta open loop, {r['open_loop_rate']} req/s (half the bare Redis handler) "
        "| p50 ms | p99 ms | goal p99 | non-2xx |",
        "|---|---|---|---|---|",
    ]
    for name, x in o.items():
        goal = (
            "(ceiling)" if name.startswith("bare") else "≤ 10 ms" if "first" in name else "≤ 15 ms"
        )
        lines.append(
            f"| {name} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {goal} | {x['non_2xx']:.0f} |"
        )
    by_rate = r.get("open_loop_by_rate", {})
    if by_rate:
        lines += [
            "",
            "| vegeta open loop, first pages, req/s | feedread p50 ms | feedread p99 ms "
            "| bare Redis p50 ms | bare Redis p99 ms | non-2xx |",
            "|---|---|---|---|---|---|",
        ]
        for rate, x in by_rate.items():
            f, b = x["feedread first"], x["bare redis"]
            lines.append(
                f"| {int(rate):,} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} | {b['p50_ms']:.1f} "
                f"| {b['p99_ms']:.1f} | {f['non_2xx'] + b['non_2xx']:.0f} |"
            )
    lines += [
        "",
        f"Bare Redis handler / fixed body: {redis_rps / fixed_rps:.2f}. Redis bytes per feed "
        f"entry at 800 (MEMORY USAGE of full feeds): {r['bytes_per_entry_at_800']:.1f}.",
    ]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(r["saturation"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.barh(names, [r["saturation"][n]["rps"] for n in names], color="#4a7bb7")
    left.set_xlabel("req/s (wrk -t2 -c64, median of 3)")
    left.invert_yaxis()
    by_rate = r.get("open_loop_by_rate", {})
    rates = [int(x) for x in by_rate]
    for name, color in (("feedread first", "#c0504d"), ("bare redis", "#4a7bb7")):
        right.plot(rates, [by_rate[str(x)][name]["p99_ms"] for x in rates], "o-", color=color,
                   label=f"{name} p99")  # fmt: skip
    right.axhline(10, color="grey", linestyle="--", label="goal (first pages)")
    right.set_xlabel("open-loop req/s (vegeta), first pages")
    right.set_ylabel("p99 ms")
    right.legend()
    fig.suptitle(f"make bench-read · {r['when']} · {r['label']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_doc(r: dict[str, Any], root: Path) -> None:
    """Replaces the bench-read section of docs/benchmarks.md and its plot."""
    plot(r, root / "docs" / "bench-read.png")
    m = r["machine"]
    section = "\n".join(
        [
            BEGIN,
            f"Command: `make bench-read` · machine: {m['nproc']} cores ({m['cpu']}), "
            f"{m['platform']} · {r['when']} · medians of {r['runs']} runs · "
            "load from wrk and vegeta on the same machine, ceilings in the same run",
            "",
            table(r),
            "",
            "![bench-read](bench-read.png)",
            END,
        ]
    )
    replace_section(BEGIN, END, section, _after_the_rest)


def _after_the_rest(text: str, section: str) -> str:
    heading = "\n\n## Feed reads from outside (`make bench-read`)\n\n"
    return text.rstrip("\n") + heading + section + "\n"
