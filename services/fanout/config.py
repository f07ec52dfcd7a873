"""Fan-out settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env


@dataclass(frozen=True)
class FanoutConfig:
    common: Common
    port: int
    feed_cap: int  # entries kept per feed (LOCAL_DEFAULTS explains 800)
    # Accounts with this many followers or more are pulled at read time, not pushed:
    # chosen from `make bench-fanout` (docs/benchmarks.md, "Choosing the pull threshold").
    pull_threshold: int
    chunk_size: int  # followers per work-topic message (LOCAL_DEFAULTS says why 5000)
    work_concurrency: int  # work-topic partitions one process handles at once

    @classmethod
    def from_env(cls, env: Env | None = None) -> FanoutConfig:
        env = env or Env.from_os()
        return cls(
            common=Common.from_env(env),
            port=env.int("WEITAO_FANOUT_PORT"),
            feed_cap=env.int("WEITAO_FEED_CAP"),
            pull_threshold=env.int("WEITAO_PULL_THRESHOLD"),
            chunk_size=env.int("WEITAO_FANOUT_CHUNK"),
            work_concurrency=env.int("WEITAO_FANOUT_WORK_CONCURRENCY"),
        )
