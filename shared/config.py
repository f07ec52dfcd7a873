"""Settings from environment variables, each with a documented local default.

Every service builds one frozen dataclass from these helpers at start-up; a value
that cannot be parsed stops the process with the variable's name in the message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The local stack's defaults (README "Configuration"): loopback, non-default ports,
# so a developer's own Postgres/Redis/Kafka are never touched, and all below Linux's
# ephemeral range (32768-60999): a port in it can be taken by any outgoing connection,
# which once kept a cluster node from binding its bus port in the middle of a test run.
LOCAL_DEFAULTS: dict[str, str] = {
    "WEITAO_PG_PORT": "15432",
    "WEITAO_REDIS_PORT": "16379",
    "WEITAO_REDIS_CLUSTER_PORT": "17001",  # first of three; bus ports are +10000
    "WEITAO_KAFKA_PORT": "19092",
    "WEITAO_KAFKA_CONTROLLER_PORT": "19093",
    "WEITAO_POSTGRES_DSN": "postgresql://weitao@127.0.0.1:{WEITAO_PG_PORT}/weitao",
    "WEITAO_REDIS_URL": "redis://127.0.0.1:{WEITAO_REDIS_PORT}/0",
    "WEITAO_KAFKA_BOOTSTRAP": "127.0.0.1:{WEITAO_KAFKA_PORT}",
    # Development default only: a deployment sets its own secret.
    "WEITAO_JWT_SECRET": "weitao-dev-secret-change-me-0123456789",
    "WEITAO_HOST": "127.0.0.1",
    "WEITAO_ACCOUNTS_PORT": "8081",
    "WEITAO_PUBLISHING_PORT": "8082",
    "WEITAO_FANOUT_PORT": "8083",
    "WEITAO_FEEDREAD_PORT": "8084",
    "WEITAO_INSIGHTS_PORT": "8085",
    "WEITAO_TOPIC_PARTITIONS": "12",
    "WEITAO_REDIS_CLUSTER": "0",
    "WEITAO_FEED_CAP": "800",
    "WEITAO_PULL_THRESHOLD": "50000",
    "WEITAO_FANOUT_CHUNK": "5000",
    "WEITAO_FANOUT_WORK_CONCURRENCY": "12",
    "WEITAO_INACTIVE_DAYS": "7",
    "WEITAO_DAILY_POST_LIMIT": "3",
    "WEITAO_PUBLIC_BASE_URL": "https://weitao.example/f",
    "WEITAO_FOLLOW_TOKEN_TTL_S": "2592000",
    "WEITAO_LOG_LEVEL": "INFO",
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Env:
    """Reads settings from a mapping (os.environ by default), falling back to LOCAL_DEFAULTS."""

    values: Mapping[str, str]

    @classmethod
    def from_os(cls) -> Env:
        return cls(os.environ)

    def str(self, key: str) -> str:
        raw = self.values.get(key)
        if raw is None or raw == "":
            if key not in LOCAL_DEFAULTS:
                raise ConfigError(f"missing required setting {key}")
            raw = LOCAL_DEFAULTS[key]
        # Defaults may refer to other settings ({WEITAO_PG_PORT}); resolve them the same way.
        if "{" in raw:
            names = [part.split("}")[0] for part in raw.split("{")[1:]]
            raw = raw.format(**{name: self.str(name) for name in names})
        return raw

    def int(self, key: str) -> int:
        raw = self.str(key)
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"setting {key} must be an integer, got {raw!r}") from None

    def bool(self, key: str) -> bool:
        raw = self.str(key).lower()
        if raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"setting {key} must be 0/1/true/false, got {raw!r}")
        return raw in ("1", "true", "yes")

    def float(self, key: str) -> float:
        raw = self.str(key)
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"setting {key} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Common:
    """Settings every service shares."""

    host: str
    postgres_dsn: str
    redis_url: str
    redis_cluster: bool
    kafka_bootstrap: str
    jwt_secret: str
    log_level: str

    @classmethod
    def from_env(cls, env: Env) -> Common:
        secret = env.str("WEITAO_JWT_SECRET")
        if len(secret.encode()) < 32:  # RFC 7518 3.2: an HS256 key of at least 256 bits
            raise ConfigError("setting WEITAO_JWT_SECRET must be at least 32 bytes")
        return cls(
            host=env.str("WEITAO_HOST"),
            postgres_dsn=env.str("WEITAO_POSTGRES_DSN"),
            redis_url=env.str("WEITAO_REDIS_URL"),
            redis_cluster=env.bool("WEITAO_REDIS_CLUSTER"),
            kafka_bootstrap=env.str("WEITAO_KAFKA_BOOTSTRAP"),
            jwt_secret=secret,
            log_level=env.str("WEITAO_LOG_LEVEL"),
        )
