"""Every service keeps the contract it publishes: schemathesis with all of its checks
(schema-valid requests accepted, invalid ones refused, declared statuses, content types
and response schemas, 405 with `Allow` for undeclared methods, auth not ignored, ...)
and its stateful phase over the links, against each /openapi.json: 0 failures.

It runs the CLI exactly as a person would from the repository root, so it reads
./schemathesis.toml and its hooks (cursor formats, a token per role); schemathesis'
pytest plugin does not load under pytest 9."""

from __future__ import annotations

import os
import subprocess

import pytest

from bench.client import SERVICES, WeitaoClient
from tests.conftest import ROOT

EXAMPLES_PER_OPERATION = 15  # five services in well under two minutes on two cores
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"


@pytest.mark.parametrize("service", SERVICES)
def test_the_published_contract_holds_under_every_check(service, stack):
    url = WeitaoClient.urls_from_env(stack)[service] + "/openapi.json"
    command = [
        str(SCHEMATHESIS),
        "run",
        url,
        "--checks=all",
        f"--max-examples={EXAMPLES_PER_OPERATION}",
        "--workers=1",
        "--request-timeout=10",
        "--wait-for-schema=30",
        "--output-truncate=false",
    ]
    env = {**os.environ, "WEITAO_JWT_SECRET": stack.str("WEITAO_JWT_SECRET")}
    run = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    report = run.stdout + run.stderr
    assert "Tested:" in report, report  # the schema loaded and operations ran
    assert run.returncode == 0, report.partition("=== FAILURES ===")[2] or report
