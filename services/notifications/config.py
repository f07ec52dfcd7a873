"""Notifications settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS,
and the port below until LOCAL_DEFAULTS names it)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env

DEFAULTS = {"WEITAO_NOTIFICATIONS_PORT": "8086"}  # API.md "Ports"


@dataclass(frozen=True)
class NotificationsConfig:
    common: Common
    port: int

    @classmethod
    def from_env(cls, env: Env | None = None) -> NotificationsConfig:
        env = env or Env.from_os()
        own = Env({**DEFAULTS, **{k: v for k, v in env.values.items() if v}})
        return cls(common=Common.from_env(env), port=own.int("WEITAO_NOTIFICATIONS_PORT"))
