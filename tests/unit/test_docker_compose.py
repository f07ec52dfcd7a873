"""docker-compose.yml, validated statically (no Docker engine runs here): every service is
there from an official, pinned image or the project's Dockerfile, each has a health check,
each starts only after what it needs is healthy, secrets are required (no defaults, no
`trust`), and Redis persists an append-only file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bench.client import SERVICES
from shared.config import LOCAL_DEFAULTS

DEV_JWT_SECRET = LOCAL_DEFAULTS["WEITAO_JWT_SECRET"]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OFFICIAL = {"postgres": "postgres:", "redis": "redis:", "kafka": "apache/kafka:4."}


def test_every_weitao_service_and_dependency_is_defined():
    assert set(COMPOSE["services"]) == {*SERVICES, *OFFICIAL, "topics"}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_infrastructure_uses_pinned_official_images(name):
    image = COMPOSE["services"][name]["image"]
    assert image.startswith(OFFICIAL[name]) and image.split(":")[1][0].isdigit()


@pytest.mark.parametrize("name", [*SERVICES, *OFFICIAL])
def test_every_long_running_service_has_a_health_check(name):
    check = COMPOSE["services"][name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] > 0


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_its_module_with_every_connection_setting(name):
    service = COMPOSE["services"][name]
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert (ROOT / service["build"]["dockerfile"]).exists()
    env = service["environment"]
    for key in (
        "WEITAO_POSTGRES_DSN",
        "WEITAO_REDIS_URL",
        "WEITAO_KAFKA_BOOTSTRAP",
        "WEITAO_JWT_SECRET",
    ):
        assert env[key], key
    assert env["WEITAO_KAFKA_BOOTSTRAP"] == "kafka:9092"
    port = service["ports"][0].rsplit(":", 1)[1]
    assert port in " ".join(service["healthcheck"]["test"])
    deps = service["depends_on"]
    assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"
    assert deps["topics"]["condition"] == "service_completed_successfully"


def test_topics_are_created_once_kafka_is_healthy():
    topics = COMPOSE["services"]["topics"]
    assert topics["command"] == ["python", "-m", "shared.topics", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


REQUIRED = re.compile(r"\$\{(WEITAO_[A-Z_]+):\?[^}]+\}")  # `${NAME:?message}`: no default


def test_the_jwt_secret_and_the_postgres_password_are_required_with_no_default():
    text = (ROOT / "docker-compose.yml").read_text()
    assert ":-weitao-dev-secret" not in text and DEV_JWT_SECRET not in text
    postgres = COMPOSE["services"]["postgres"]["environment"]
    assert REQUIRED.fullmatch(postgres["POSTGRES_PASSWORD"]).group(1) == "WEITAO_POSTGRES_PASSWORD"
    for name in SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert REQUIRED.fullmatch(env["WEITAO_JWT_SECRET"]).group(1) == "WEITAO_JWT_SECRET"
        assert "WEITAO_ENV" not in env  # a deployment is never in local development mode
        # The services log in with that password (postgresql://weitao:<password>@postgres).
        user_info = env["WEITAO_POSTGRES_DSN"].split("://", 1)[1].split("@", 1)[0]
        assert REQUIRED.fullmatch(user_info.split(":", 1)[1]).group(1) == "WEITAO_POSTGRES_PASSWORD"


def test_postgres_trusts_no_connection():
    postgres = COMPOSE["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert set(postgres["POSTGRES_INITDB_ARGS"].split()) == {
        "--auth-host=scram-sha-256",
        "--auth-local=scram-sha-256",
    }
    assert "trust" not in str(COMPOSE["services"]["postgres"])


def test_redis_keeps_an_append_only_file_fsynced_every_second_on_a_volume():
    redis = COMPOSE["services"]["redis"]
    command = redis["command"]
    settings = dict(zip(command[1::2], command[2::2], strict=True))
    assert command[0] == "redis-server"
    assert settings["--appendonly"] == "yes" and settings["--appendfsync"] == "everysec"
    assert "--dir" not in settings  # the image's working directory, /data, is the volume
    (volume,) = redis["volumes"]
    assert volume.split(":")[1] == "/data" and volume.split(":")[0] in COMPOSE["volumes"]
