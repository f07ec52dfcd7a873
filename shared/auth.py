"""JWT bearer auth of API.md: HS256, claims `sub`, `role` (user | staff | service), `exp`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import jwt

from shared.errors import ApiError

Role = Literal["user", "staff", "service"]
ROLES: frozenset[str] = frozenset({"user", "staff", "service"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account id in `sub` and the role it acts in."""

    sub: str
    role: Role

    def may_act_for(self, account_id: int) -> bool:
        """A user acts only as itself; a service acts for anyone (API.md)."""
        return self.role == "service" or (self.role == "user" and self.sub == str(account_id))

    def is_staff(self) -> bool:
        """Whether the caller is staff."""
        return self.role == "staff"


def mint_token(secret: str, sub: str | int, role: Role, ttl_s: int = 3600) -> str:
    """A signed token, for internal callers, the demo, tests and the load harness."""
    claims = {"sub": str(sub), "role": role, "exp": int(time.time()) + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


def unauthorized(message: str) -> ApiError:
    """401 unauthorized with `message`."""
    return ApiError(401, "unauthorized", message)


# Verified tokens by (secret, token): (principal, exp). A feed read verifies its token on
# every request; an HMAC and a JSON decode per read is CPU better spent elsewhere. Only
# valid tokens enter; expiry is checked on every hit, so a hit answers as verification
# would (nbf and iat, once passed, stay passed). Oldest out first when full.
MAX_CACHED_TOKENS = 10_000
_verified: dict[tuple[str, str], tuple[Principal, int]] = {}


def principal_from_header(header: str | None, secret: str) -> Principal:
    """Decodes `Authorization: Bearer <jwt>`; raises ApiError(401) for anything not valid."""
    if not header:
        raise unauthorized("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("authorization must be 'Bearer <token>'")
    key = (secret, token.strip())
    cached = _verified.get(key)
    if cached is None:
        cached = _verify(key[1], secret)
        while len(_verified) >= MAX_CACHED_TOKENS:
            del _verified[next(iter(_verified))]
        _verified[key] = cached
    principal, exp = cached
    if exp <= time.time():  # PyJWT's rule, no leeway
        del _verified[key]
        raise unauthorized("token expired")
    return principal


def _verify(token: str, secret: str) -> tuple[Principal, int]:
    """The principal and expiry of a valid token; ApiError(401) for anything else."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired") from None
    except jwt.PyJWTError:
        raise unauthorized("invalid token") from None
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub or role not in ROLES:
        raise unauthorized("token claims must carry a string sub and a known role")
    return Principal(sub=sub, role=role), int(claims["exp"])


def require_role(principal: Principal, *roles: Role) -> None:
    """403 forbidden unless the caller has one of `roles`."""
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"requires role {' or '.join(roles)}")


def require_actor(principal: Principal, account_id: int, *, staff_too: bool = False) -> None:
    """Allows the account itself (user), a service, and staff when `staff_too`."""
    if principal.may_act_for(account_id) or (staff_too and principal.is_staff()):
        return
    raise ApiError(403, "forbidden", "not allowed to act for this account")
