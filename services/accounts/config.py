"""Accounts settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, ConfigError, Env


@dataclass(frozen=True)
class AccountsConfig:
    common: Common
    port: int
    public_base_url: str  # follow-token URLs (QR codes) point here
    follow_token_ttl_s: int
    following_limit: int  # accounts one user may follow; API.md promises 5000

    @classmethod
    def from_env(cls, env: Env | None = None) -> AccountsConfig:
        env = env or Env.from_os()
        config = cls(
            common=Common.from_env(env),
            port=env.int("WEITAO_ACCOUNTS_PORT"),
            public_base_url=env.str("WEITAO_PUBLIC_BASE_URL").rstrip("/"),
            follow_token_ttl_s=env.int("WEITAO_FOLLOW_TOKEN_TTL_S"),
            following_limit=env.int("WEITAO_FOLLOWING_LIMIT"),
        )
        if config.following_limit < 1:
            raise ConfigError("setting WEITAO_FOLLOWING_LIMIT must be at least 1")
        return config
