"""Property-based fuzzing of each service's /openapi.json with schemathesis: whatever
requests it generates from the published contract, no answer is a 5xx.

schemathesis' pytest plugin does not load under pytest 9, so each operation's
hypothesis strategy is driven directly; the generated cases are the same."""

from __future__ import annotations

import random

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from bench.client import WeitaoClient
from shared.auth import mint_token
from tests.support import consumers, publish, seller

EXAMPLES_PER_OPERATION = 30
STAFF_PATHS = ("/v1/invitations", "/suspend", "/unsuspend", "/v1/admin/")


@pytest.fixture(scope="session")
async def known(api):
    """Real ids, so that generated requests reach past the 404s into the rules."""
    shop = await seller(api)
    (fan,) = await consumers(api, 1)
    post = await publish(api, shop, "fuzz target", kind="vote", vote={"options": ["a", "b"]})
    return {"account": shop["id"], "user": fan["id"], "post": post["id"]}


@pytest.fixture(scope="session")
def tokens(stack, known):
    secret = stack.str("WEITAO_JWT_SECRET")
    return {role: mint_token(secret, known["user"], role) for role in ("service", "staff")}


def aim_at_known_ids(case, known) -> None:
    """Half the cases keep the generated ids; the other half name real accounts and posts."""
    if not case.path_parameters or random.random() < 0.5:
        return
    if case.method == "DELETE" and case.path == "/v1/posts/{id}":
        return  # keep the target post alive for the comment, like and vote operations
    for name in case.path_parameters:
        if name in ("account_id", "user_id"):
            case.path_parameters[name] = known["account" if name == "account_id" else "user"]
        elif name == "id":
            case.path_parameters[name] = known["post" if "/posts/" in case.path else "account"]


def call_without_5xx(case, tokens, known) -> None:
    aim_at_known_ids(case, known)
    role = "staff" if any(p in case.path for p in STAFF_PATHS) else "service"
    response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("service", ["accounts", "publishing"])
def test_no_generated_request_gets_a_5xx(service, stack, tokens, known):
    base = WeitaoClient.urls_from_env(stack)[service]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", wait_for_schema=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            call_without_5xx(case, tokens, known)

        fuzz()
