"""What schemathesis must know to test Weitao's contracts, loaded by ./schemathesis.toml
(so `schemathesis run` from the repository root and tests/e2e/test_contract_checks.py
generate the same requests):

- the `weitao-cursor-N` formats: an opaque cursor of N integers, made the way the API
  makes them (a guessed string is not a cursor, and the API rightly refuses it);
- a bearer token per operation in the role API.md gives it (staff routes, the user-only
  QR redeem, a service for the rest), minted with the stack's WEITAO_JWT_SECRET.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from shared.auth import mint_token
from shared.config import Env
from shared.ids import MAX_ID
from shared.pagination import encode_cursor

STAFF_PATHS = ("/v1/invitations", "/suspend", "/unsuspend", "/v1/admin/bulk/", "/v1/admin/stats")
USER_PATHS = ("/v1/follow-tokens/",)
CALLER_ID = "123"  # any canonical id: the routes check roles, and 404 what does not exist


def cursors(arity: int) -> st.SearchStrategy[str]:
    """Cursors for positions of `arity` integers, as shared.pagination encodes them."""
    position = st.lists(st.integers(0, MAX_ID), min_size=arity, max_size=arity)
    return position.map(encode_cursor)


for _arity in (1, 2):
    schemathesis.openapi.format(f"weitao-cursor-{_arity}", cursors(_arity))


def role_for(path: str) -> str:
    if any(p in path for p in STAFF_PATHS):
        return "staff"
    return "user" if any(p in path for p in USER_PATHS) else "service"


@schemathesis.auth(refresh_interval=600)
class RoleTokens:
    """Mints one token per role (refreshed well before their hour runs out)."""

    def get(self, case, context) -> dict[str, str]:
        secret = Env.from_os().str("WEITAO_JWT_SECRET")
        return {role: mint_token(secret, CALLER_ID, role) for role in ("user", "staff", "service")}

    def set(self, case, data: dict[str, str], context) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data[role_for(case.path)]}"
