"""Settings from environment variables, each with a documented local default.

Every service builds one frozen dataclass from these helpers at start-up; a value
that cannot be parsed stops the process with the variable's name in the message.
The JWT secret is the exception: its default is for local development only
(`WEITAO_ENV=local`, which the local stack and the tests set), and a service
anywhere else refuses to start without a secret of its own.
"""

from __future__ import annotations

import builtins
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
    # Local development only (WEITAO_ENV=local): printed here, so anyone can mint with it.
    "WEITAO_JWT_SECRET": "weitao-dev-secret-change-me-0123456789",
    "WEITAO_HOST": "127.0.0.1",
    "WEITAO_ACCOUNTS_PORT": "8081",
    "WEITAO_PUBLISHING_PORT": "8082",
    "WEITAO_FANOUT_PORT": "8083",
    "WEITAO_FEEDREAD_PORT": "8084",
    "WEITAO_INSIGHTS_PORT": "8085",
    "WEITAO_NOTIFICATIONS_PORT": "8086",
    "WEITAO_TOPIC_PARTITIONS": "12",
    "WEITAO_REDIS_CLUSTER": "0",
    # Entries a feed keeps: at 3 posts a day per account, 800 cover weeks of a consumer
    # following dozens of accounts; the cost per entry is measured in docs/benchmarks.md.
    "WEITAO_FEED_CAP": "800",
    "WEITAO_PULL_THRESHOLD": "50000",
    # Followers per work-topic message: a post of an account with more followers is split
    # into chunks that every fanout process of the group shares; a crash redoes one chunk.
    "WEITAO_FANOUT_CHUNK": "5000",
    "WEITAO_FANOUT_WORK_CONCURRENCY": "12",
    "WEITAO_INACTIVE_DAYS": "7",
    "WEITAO_DAILY_POST_LIMIT": "3",
    "WEITAO_PUBLIC_BASE_URL": "https://weitao.example/f",
    "WEITAO_FOLLOW_TOKEN_TTL_S": "2592000",
    "WEITAO_FOLLOWING_LIMIT": "5000",  # API.md: accounts a user may follow (reads merge them all)
    "WEITAO_LOG_LEVEL": "INFO",
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class Secret:
    """A setting that must not reach a log: repr and str mask it, `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: call it only where the value is used (signing)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        # A masked value signing something would fail silently: interpolation is an error.
        raise TypeError("a Secret is not text: call reveal() where the value is needed")


@dataclass(frozen=True)
class Env:
    """Reads settings from a mapping (os.environ by default), falling back to LOCAL_DEFAULTS.

    Its methods are named for the types they return, so inside the class those names are
    the methods: annotations say `builtins.int` and so on."""

    values: Mapping[str, str]

    @classmethod
    def from_os(cls) -> Env:
        """Settings from os.environ."""
        return cls(os.environ)

    def str(self, key: str) -> str:
        """The setting, else its LOCAL_DEFAULTS value; ConfigError naming a key with neither."""
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

    def int(self, key: builtins.str) -> builtins.int:
        """The setting as an int; ConfigError naming the key when it is not one."""
        raw = self.str(key)
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"setting {key} must be an integer, got {raw!r}") from None

    def bool(self, key: builtins.str) -> builtins.bool:
        """The setting as 0/1/true/false/yes/no; ConfigError naming the key otherwise."""
        raw = self.str(key).lower()
        if raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"setting {key} must be 0/1/true/false, got {raw!r}")
        return raw in ("1", "true", "yes")

    @property
    def local_development(self) -> builtins.bool:
        """WEITAO_ENV=local: development defaults for secrets are allowed."""
        return self.values.get("WEITAO_ENV") == "local"

    def float(self, key: builtins.str) -> builtins.float:
        """The setting as a number; ConfigError naming the key when it is not one."""
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
    jwt_secret: Secret
    log_level: str

    @classmethod
    def from_env(cls, env: Env) -> Common:
        """The shared settings; ConfigError naming the first bad one."""
        return cls(
            host=env.str("WEITAO_HOST"),
            postgres_dsn=env.str("WEITAO_POSTGRES_DSN"),
            redis_url=env.str("WEITAO_REDIS_URL"),
            redis_cluster=env.bool("WEITAO_REDIS_CLUSTER"),
            kafka_bootstrap=env.str("WEITAO_KAFKA_BOOTSTRAP"),
            jwt_secret=jwt_secret(env),
            log_level=env.str("WEITAO_LOG_LEVEL"),
        )


def jwt_secret(env: Env) -> Secret:
    """WEITAO_JWT_SECRET; outside local development it must be set, and not the default."""
    given = env.values.get("WEITAO_JWT_SECRET") or ""
    if not env.local_development:
        if not given:
            raise ConfigError(
                "WEITAO_JWT_SECRET is not set: outside local development (WEITAO_ENV=local) "
                "a service needs the deployment's own secret of 32 bytes or more"
            )
        if given == LOCAL_DEFAULTS["WEITAO_JWT_SECRET"]:
            raise ConfigError(
                "WEITAO_JWT_SECRET is the development default printed in the repository, "
                "with which anyone can mint staff tokens: set the deployment's own secret"
            )
    secret = given or LOCAL_DEFAULTS["WEITAO_JWT_SECRET"]
    if len(secret.encode()) < 32:  # RFC 7518 3.2: an HS256 key of at least 256 bits
        raise ConfigError("setting WEITAO_JWT_SECRET must be at least 32 bytes")
    return Secret(secret)
