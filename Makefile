# Weitao: the two commands a newcomer needs are `make run` and `make test`.
# Every setting comes from the environment (see README "Configuration"), e.g.
#   WEITAO_JWT_SECRET=a-secret-of-at-least-32-bytes-long make run

SHELL := /bin/bash
# Every target here is local development: the services accept the documented development
# JWT secret only in this mode (anywhere else they refuse to start without a real one).
export WEITAO_ENV ?= local
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) deploy/localstack.py

.PHONY: run test test-unit test-integration test-e2e stop logs status lint format venv \
        rebuild-feeds dead-letters replay-dead-letters bench bench-fanout bench-read bench-read-pull bench-insights \
        chaos clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@# A venv cut short (say, Ctrl-C while it was made) has no pip: made again from scratch.
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $@

## Bring up Kafka, Postgres, Redis and the six services, then walk through the API.
run: venv
	@$(STACK) up
	@$(PY) deploy/demo.py
	@$(STACK) urls
	@echo "logs: make logs (files in .run/logs/)   stop: make stop"

## The whole suite against the real stack (started here when it is not up). A stack the
## tests start pulls accounts from 2,000 followers on, so crossing the threshold is cheap
## to test; the tests read the threshold a running stack really uses.
test: export WEITAO_PULL_THRESHOLD ?= 2000
test: venv
	@$(PY) -m pytest tests

## The fault suite: each fault struck under load, feeds checked against Postgres truth;
## writes docs/reliability.md. One case: make chaos K=redis-down
chaos: export WEITAO_PULL_THRESHOLD ?= 2000
chaos: venv
	@$(PY) -m pytest tests/chaos -m chaos $(if $(K),-k "$(K)") --timeout 900

test-unit: venv
	@$(PY) -m pytest tests/unit

test-integration: venv
	@$(PY) -m pytest tests/integration

test-e2e: venv
	@$(PY) -m pytest tests/e2e

## Fan-out and feed-read figures against Redis itself (docs/benchmarks.md).
bench-fanout: venv
	@$(STACK) up
	@$(PY) bench/fanout.py

## Feed reads of one feedread process measured from outside (wrk, vegeta; installed by
## deploy/tools.sh) beside bare-handler ceilings in the same run (docs/benchmarks.md).
## WEITAO_PULL_THRESHOLD must be the running fanout's: pulled accounts get that many followers.
bench-read: venv
	@$(STACK) up
	@$(PY) bench/read.py

## One feed page as the pulled sources a reader follows grow (5, 50, 500), from outside like
## bench-read, beside its bare Redis ceiling (bench-read's world, built first if missing);
## fanout runs with a low pull threshold while the world is built, then is restored.
bench-read-pull: venv
	@$(STACK) up
	@$(PY) bench/read_pull.py --doc

## Insights reads from outside (the official list, as service and as a following user; a
## week's stats as the owner): vegeta p50/p99/max and wrk req/s beside a fixed-body ceiling
## in the same run, 3 runs; the official list's goal is p99 <= 20 ms (docs/benchmarks.md).
bench-insights: venv
	@$(STACK) up
	@$(PY) bench/insights_latency.py --doc

## The load harness, standard scenario, 3 runs: report in bench-out/, medians in
## docs/benchmarks.md. Point it elsewhere with WEITAO_<SERVICE>_URL and WEITAO_JWT_SECRET.
bench: venv
	@$(STACK) up
	@$(PY) -m bench.harness --scenario standard --runs 3 --doc

## Rebuild every feed and projection from Postgres truth, via events (after a Redis wipe).
rebuild-feeds: venv
	@$(PY) -m services.accounts.reemit
	@$(PY) -m services.publishing.reemit

## Events a consumer group gave up on (after 8 failed attempts), and their replay, once
## each, to the topics they came from: make replay-dead-letters GROUP=fanout
dead-letters: venv
	@$(PY) -m shared.deadletters list

replay-dead-letters: venv
	@test -n "$(GROUP)" || { echo "usage: make replay-dead-letters GROUP=<consumer group>"; exit 2; }
	@$(PY) -m shared.deadletters replay "$(GROUP)"

stop:
	@$(STACK) down

status:
	@$(STACK) status

logs:
	@tail -n 40 .run/logs/*.log

## ruff (lint and format) on everything; mypy on shared/ and services/ (pyproject.toml).
lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

format: venv
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

clean: stop
	rm -rf .run
