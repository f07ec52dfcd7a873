"""The fault suite's report: one row per fault, written to docs/reliability.md when the
session ends (only by a run of the whole suite, so a single case never truncates it)."""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT

DOC = ROOT / "docs" / "reliability.md"


@dataclass(frozen=True)
class Row:
    fault: str
    requests: int
    server_errors: int
    error_window_s: float
    posts: int  # (reader, post) pairs that must be served
    lost: int
    doubled: int
    wrongly_served: int
    dead_letters: int
    readiness: str
    recovered_s: float
    command: str


HEADER = (
    "| fault | requests | 5xx | 5xx window (s) | (reader, post) pairs checked | lost "
    "| doubled | deleted/unfollowed/suspended served | dead letters | readiness during -> "
    "after | recovered in (s) | command |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def render(rows: list[Row]) -> str:
    lines = "".join(
        f"| {r.fault} | {r.requests} | {r.server_errors} | {r.error_window_s:.1f} | {r.posts} "
        f"| {r.lost} | {r.doubled} | {r.wrongly_served} | {r.dead_letters} | {r.readiness} "
        f"| {r.recovered_s:.1f} | `{r.command}` |\n"
        for r in rows
    )
    return (
        "# Reliability: the fault suite\n\n"
        "Written by `make chaos` (tests/chaos). Each fault is injected into the local stack "
        "while the load harness's open-loop traffic (publishes, first and deeper feed pages, "
        "follows and unfollows) runs on a fresh seeded world, with deletes and a suspension "
        "in flight. After recovery every reader's whole feed is read page by page and held "
        "against Postgres truth (the accounts' follows and statuses, publishing's posts), "
        "entry by entry.\n\n"
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on commit {_commit()}, "
        f"{platform.node()} ({platform.machine()}, 2 cores, shared).\n\n"
        "- **lost**: a (reader, post) pair Postgres says must be served and is not.\n"
        "- **doubled**: a post served twice in one reader's pages.\n"
        "- **served that must be gone**: a deleted post, or one of an unfollowed or "
        "suspended account.\n"
        "- **dead letters**: records written to `weitao.dead-letters.v1` during the case "
        "(an outage must write none).\n"
        "- **5xx window**: from the first 5xx the load saw to the last; requests refused "
        "while a service was down (connection refused) are not answers and not counted.\n"
        "- **readiness**: what the services the fault touches answered on `/readyz` during "
        "the fault, then what every service answered after recovery.\n\n" + HEADER + lines
    )


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


@pytest.fixture(scope="session")
def reliability_rows(request: pytest.FixtureRequest) -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    whole_suite = not request.config.getoption("keyword") and rows
    if whole_suite:
        DOC.write_text(render(rows))
