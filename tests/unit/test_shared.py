"""The shared library: settings, ids, auth tokens, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.auth import Principal, mint_token, principal_from_header
from shared.config import Common, ConfigError, Env
from shared.errors import ApiError
from shared.ids import IdGenerator, id_time_ms, parse_id
from shared.timeutil import parse_rfc3339, rfc3339

SECRET = "k" * 32


def test_every_setting_has_a_local_default_and_env_overrides_it():
    env = Env({"WEITAO_PG_PORT": "6000"})
    assert env.str("WEITAO_POSTGRES_DSN") == "postgresql://weitao@127.0.0.1:6000/weitao"
    assert Env({}).int("WEITAO_FEED_CAP") == 800


def test_a_malformed_or_missing_setting_fails_naming_it():
    with pytest.raises(ConfigError, match="WEITAO_FEED_CAP"):
        Env({"WEITAO_FEED_CAP": "many"}).int("WEITAO_FEED_CAP")
    with pytest.raises(ConfigError, match="WEITAO_NOT_A_SETTING"):
        Env({}).str("WEITAO_NOT_A_SETTING")
    with pytest.raises(ConfigError, match="WEITAO_JWT_SECRET"):
        Common.from_env(Env({"WEITAO_JWT_SECRET": "short"}))


def test_ids_are_unique_time_ordered_and_parse_back():
    ids = IdGenerator(worker=7)
    made = [ids.next_id() for _ in range(10_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert abs(id_time_ms(made[0]) - datetime.now(UTC).timestamp() * 1000) < 5_000
    assert parse_id(str(made[0])) == made[0]


@pytest.mark.parametrize("text", ["", "abc", "-1", "0", "1" * 20, "9223372036854775808"])
def test_text_that_is_not_a_64_bit_id_is_refused(text):
    assert parse_id(text) is None


def test_a_minted_token_yields_its_principal_and_roles_act_as_api_md_says():
    caller = principal_from_header(f"Bearer {mint_token(SECRET, 42, 'user')}", SECRET)
    assert caller == Principal("42", "user")
    assert caller.may_act_for(42) and not caller.may_act_for(43)
    assert Principal("gw", "service").may_act_for(43)
    assert not Principal("1", "staff").may_act_for(1)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic abc",
        "Bearer ",
        "Bearer not.a.jwt",
        f"Bearer {mint_token('x' * 32, 1, 'user')}",
        f"Bearer {mint_token(SECRET, 1, 'user', ttl_s=-10)}",
    ],
)
def test_missing_malformed_foreign_or_expired_tokens_are_401(header):
    with pytest.raises(ApiError) as refused:
        principal_from_header(header, SECRET)
    assert refused.value.status == 401


def test_times_are_rfc3339_utc_with_milliseconds():
    moment = datetime(2026, 11, 25, 4, 5, 6, 789_999, tzinfo=UTC)
    assert rfc3339(moment) == "2026-11-25T04:05:06.789Z"
    assert parse_rfc3339("2026-11-25T12:05:06.789+08:00") == moment.replace(microsecond=789_000)
    with pytest.raises(ValueError):
        parse_rfc3339("2026-11-25T04:05:06")
