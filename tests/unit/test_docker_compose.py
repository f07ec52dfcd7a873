"""docker-compose.yml, validated statically (no Docker engine runs here): every service is
there from an official, pinned image or the project's Dockerfile, each has a health check,
and each starts only after what it needs is healthy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.client import SERVICES

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
