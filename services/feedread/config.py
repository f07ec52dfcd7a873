"""Feedread settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env


@dataclass(frozen=True)
class FeedreadConfig:
    common: Common
    port: int
    # A user who has not read a feed for this long gets no more pushes; their feed is
    # merged from timelines on return and rebuilt in the background.
    inactive_days: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> FeedreadConfig:
        env = env or Env.from_os()
        return cls(
            common=Common.from_env(env),
            port=env.int("WEITAO_FEEDREAD_PORT"),
            inactive_days=env.int("WEITAO_INACTIVE_DAYS"),
        )
