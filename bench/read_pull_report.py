"""The bench-read-pull table, plot (docs/bench-read-pull.png) and docs/benchmarks.md section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.doc import replace_section

BEGIN, END = "<!-- bench-read-pull:begin -->", "<!-- bench-read-pull:end -->"
IMAGE = "bench-read-pull.png"


def _rows(r: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(pulled sources, page kind, result name) of each measured page, fewest sources first."""
    return sorted(
        ((int(n.split()[0]), n.split()[1], n) for n in r["open_loop"]), key=lambda x: x[0]
    )


def table(r: dict[str, Any]) -> str:
    s, o, rates = r["saturation"], r["open_loop"], r["open_loop_rates"]
    bare = s["bare redis"]["rps"]
    lines = [
        f"| pulled sources | page | req/s (wrk -t2 -c{r['connections']}, {r['seconds']} s) "
        "| ms per page at saturation | ratio to bare Redis | vegeta req/s | p50 ms | p99 ms "
        "| non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sources, kind, name in _rows(r):
        x, y = s[name], o[name]
        lines.append(
            f"| {sources} | {kind} | {x['rps']:,.0f} | {1000 / x['rps']:.1f} "
            f"| {x['rps'] / bare:.3f} | {rates[name]} | {y['p50_ms']:.1f} | {y['p99_ms']:.1f} "
            f"| {x['non_2xx'] + y['non_2xx']:.0f} |"
        )
    lines += [
        "",
        f"Bare Redis handler (LRANGE 0 19 + MGET of 20, bench-read's full feeds), same run: "
        f"{bare:,.0f} req/s, p50 {s['bare redis']['p50_ms']:.1f} ms, "
        f"{s['bare redis']['non_2xx']:.0f} non-2xx.",
    ]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(6.4, 3.8))
    rows = _rows(r)
    for kind, style in (("first", "-"), ("deeper", "--")):
        points = [(n, r["open_loop"][name]) for n, k, name in rows if k == kind]
        sources = [n for n, _ in points]
        for figure, color in (("p99_ms", "#c0504d"), ("p50_ms", "#4a7bb7")):
            axes.plot(
                sources,
                [x[figure] for _, x in points],
                style,
                marker="o",
                color=color,
                label=f"{kind} page {figure[:3]}",
            )
    axes.set_xscale("log")
    sources = sorted({n for n, _, _ in rows})
    axes.set_xticks(sources, [str(n) for n in sources])
    axes.set_xlabel("pulled sources the reader follows")
    axes.set_ylabel("ms per page (vegeta open loop)")
    axes.legend()
    fig.suptitle(f"make bench-read-pull · {r['when']} · {r['label']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_doc(r: dict[str, Any], root: Path) -> None:
    """Replaces what is between the bench-read-pull markers of docs/benchmarks.md, and
    its plot."""
    plot(r, root / "docs" / IMAGE)
    m = r["machine"]
    section = "\n".join(
        [
            BEGIN,
            f"Command: `make bench-read-pull` · machine: {m['nproc']} cores ({m['cpu']}), "
            f"{m['platform']} · {r['when']} · medians of {r['runs']} runs · "
            f"{r['readers_per_group']} readers per group · load from wrk and vegeta on the "
            "same machine, the ceiling in the same run",
            "",
            table(r),
            "",
            f"![bench-read-pull]({IMAGE})",
            END,
        ]
    )
    replace_section(BEGIN, END, section)
