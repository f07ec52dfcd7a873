"""Publishing settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env


@dataclass(frozen=True)
class PublishingConfig:
    common: Common
    port: int
    daily_post_limit: int  # PRODUCT.md rule 2: three a day, per deployment configurable

    @classmethod
    def from_env(cls, env: Env | None = None) -> PublishingConfig:
        env = env or Env.from_os()
        return cls(
            common=Common.from_env(env),
            port=env.int("WEITAO_PUBLISHING_PORT"),
            daily_post_limit=env.int("WEITAO_DAILY_POST_LIMIT"),
        )
