"""shared.auth caches verified tokens: a hit answers as verification would (expiry checked
on every hit, the secret part of the key), only valid tokens are kept, the cache is bounded."""

from __future__ import annotations

import time

import jwt
import pytest

from shared import auth
from shared.auth import Principal, mint_token, principal_from_header
from shared.errors import ApiError

SECRET = "s" * 32


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens jwt.decode verified (an empty cache for each test)."""
    monkeypatch.setattr(auth, "_verified", {})
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args, **kwargs):
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return seen


def test_a_token_is_verified_once_then_answered_from_the_cache(decodes):
    token = mint_token(SECRET, 42, "user")
    for _ in range(3):
        assert principal_from_header(f"Bearer {token}", SECRET) == Principal("42", "user")
    assert decodes == [token]


def test_a_cached_token_past_its_exp_is_expired(decodes, monkeypatch):
    token = mint_token(SECRET, 42, "user", ttl_s=60)
    principal_from_header(f"Bearer {token}", SECRET)
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(ApiError) as raised:
        principal_from_header(f"Bearer {token}", SECRET)
    assert (raised.value.status, raised.value.message) == (401, "token expired")


def test_a_cached_token_under_another_secret_is_invalid(decodes):
    token = mint_token(SECRET, 42, "user")
    principal_from_header(f"Bearer {token}", SECRET)
    with pytest.raises(ApiError) as raised:
        principal_from_header(f"Bearer {token}", "t" * 32)
    assert (raised.value.status, raised.value.message) == (401, "invalid token")


def test_invalid_tokens_are_verified_every_time(decodes):
    token = mint_token(SECRET, 42, "user")[:-2] + "xx"
    for _ in range(2):
        with pytest.raises(ApiError):
            principal_from_header(f"Bearer {token}", SECRET)
    assert decodes == [token, token]


def test_the_cache_stays_bounded(decodes, monkeypatch):
    monkeypatch.setattr(auth, "MAX_CACHED_TOKENS", 3)
    tokens = [mint_token(SECRET, n, "user") for n in range(5)]
    for token in tokens:
        principal_from_header(f"Bearer {token}", SECRET)
    assert len(auth._verified) == 3
    principal_from_header(f"Bearer {tokens[-1]}", SECRET)  # the newest is still kept
    assert len(decodes) == 5
