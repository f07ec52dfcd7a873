"""Notifications settings, read once from the environment (shared.config.LOCAL_DEFAULTS)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env


@dataclass(frozen=True)
class NotificationsConfig:
    common: Common
    port: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> NotificationsConfig:
        env = env or Env.from_os()
        return cls(common=Common.from_env(env), port=env.int("WEITAO_NOTIFICATIONS_PORT"))
