"""The running local stack as benches change it: a service restarted with bench settings."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


STACK = [sys.executable, str(ROOT / "deploy" / "localstack.py")]
# The services the benches stop while they measure (`paused`): on the same 2 cores,
# insights would ingest feedread's served impressions during feedread's runs only (Kafka
# still takes them), and either may be working off a backlog another bench left.
BESIDE_THE_MEASURED = ("insights", "notifications")


@contextlib.contextmanager
def paused(*services: str) -> Iterator[None]:
    """`services` stopped for the block, started again after. On this 2-core machine a
    service beside the one measured takes CPU from it, and unevenly: insights ingests the
    impressions feedread sends while it serves pages (none while a ceiling does)."""
    for service in services:
        subprocess.run([*STACK, "stop", service], check=True, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        for service in services:
            subprocess.run([*STACK, "start", service], check=True, stdout=subprocess.DEVNULL)


def restart(service: str, **env: str) -> None:
    """Stops and starts one service of the local stack, with `env` over this process's
    environment (no `env`: the environment's own settings again)."""
    subprocess.run([*STACK, "stop", service], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*STACK, "start", service], check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env}
    )
