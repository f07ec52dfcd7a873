"""The running local stack as benches change it: a service restarted with bench settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def restart(service: str, **env: str) -> None:
    """Stops and starts one service of the local stack, with `env` over this process's
    environment (no `env`: the environment's own settings again)."""
    stack = [sys.executable, str(ROOT / "deploy" / "localstack.py")]
    subprocess.run([*stack, "stop", service], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*stack, "start", service], check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env}
    )
