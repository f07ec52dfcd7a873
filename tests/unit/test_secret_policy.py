"""The JWT secret outside local development: required, never the development default
printed in the repository, 32 bytes or more; and never printed by repr, str or a log."""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.client import SERVICES
from shared.auth import mint_token
from shared.config import LOCAL_DEFAULTS, Common, ConfigError, Env, Secret
from shared.web import Route, build_app, json_response

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = LOCAL_DEFAULTS["WEITAO_JWT_SECRET"]
OWN_SECRET = "a-deployments-own-secret-0123456789abcdef"


def test_outside_local_development_a_missing_secret_stops_the_service():
    with pytest.raises(ConfigError, match=r"WEITAO_JWT_SECRET.*WEITAO_ENV=local"):
        Common.from_env(Env({}))


@pytest.mark.parametrize("mode", [{}, {"WEITAO_ENV": "production"}, {"WEITAO_ENV": "Local"}])
def test_outside_local_development_the_published_default_is_refused(mode):
    with pytest.raises(ConfigError, match="development default"):
        Common.from_env(Env({**mode, "WEITAO_JWT_SECRET": DEV_SECRET}))


@pytest.mark.parametrize("mode", [{}, {"WEITAO_ENV": "local"}])
def test_a_secret_under_32_bytes_is_refused_in_every_mode(mode):
    with pytest.raises(ConfigError, match="32 bytes"):
        Common.from_env(Env({**mode, "WEITAO_JWT_SECRET": "x" * 31}))


def test_local_development_falls_back_to_the_development_default():
    assert Common.from_env(Env({"WEITAO_ENV": "local"})).jwt_secret.reveal() == DEV_SECRET


def test_a_deployment_with_its_own_secret_starts():
    assert Common.from_env(Env({"WEITAO_JWT_SECRET": OWN_SECRET})).jwt_secret.reveal() == OWN_SECRET


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_configuration_refuses_to_load_without_a_secret(service):
    config = importlib.import_module(f"services.{service}.config")
    (kind,) = [v for k, v in vars(config).items() if k.endswith("Config") and k != "Common"]
    with pytest.raises(ConfigError, match="WEITAO_JWT_SECRET"):
        kind.from_env(Env({}))


def test_a_service_process_without_a_secret_exits_saying_why():
    env = {k: v for k, v in os.environ.items() if k not in ("WEITAO_JWT_SECRET", "WEITAO_ENV")}
    done = subprocess.run(
        [sys.executable, "-m", "services.insights"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "WEITAO_JWT_SECRET" in done.stderr


def test_the_secret_never_prints(caplog):
    common = Common.from_env(Env({"WEITAO_JWT_SECRET": OWN_SECRET}))
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r", common, common.jwt_secret)
    for shown in (repr(common), str(common.jwt_secret), repr(common.jwt_secret), caplog.text):
        assert OWN_SECRET not in shown and "****" in shown
    with pytest.raises(TypeError):
        f"{common.jwt_secret}"  # interpolating it by mistake fails loudly


async def test_the_http_app_checks_tokens_with_the_revealed_secret():
    async def hello(_: web.Request) -> web.Response:
        return json_response({"ok": True})

    app = build_app("t", Secret(OWN_SECRET), (Route("GET", "/v1/hello", hello, "hi"),))
    async with TestClient(TestServer(app)) as client:
        for secret, status in ((OWN_SECRET, 200), (DEV_SECRET, 401)):
            token = mint_token(secret, 1, "user")
            reply = await client.get("/v1/hello", headers={"Authorization": f"Bearer {token}"})
            assert reply.status == status
