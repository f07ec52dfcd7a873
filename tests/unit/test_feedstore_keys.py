"""shared.feedstore's keys and who writes them, without servers: every key names its
family's one writer, a user's (an account's) keys share a Redis Cluster slot, and the
services reach the keyspace only through the API their service owns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from redis.crc import key_slot

from shared.feedstore.keys import (
    FANOUT,
    FEEDREAD,
    PULL_ACCOUNTS,
    WRITERS,
    account_key,
    all_feed_keys,
    family_of,
    following_key,
    post_key,
    seen_key,
    timeline_key,
)

ROOT = Path(__file__).resolve().parents[2]
# Redis commands that change a key, as redis-py names them.
WRITE_CALL = re.compile(
    r"\.(zadd|zrem\w*|sadd|srem|set|setex|hset|hdel|expire|pexpire|eval|evalsha|delete|"
    r"unlink|execute_command)\("
)


def test_every_key_belongs_to_a_family_with_one_writer() -> None:
    keys = [
        *all_feed_keys(7),
        seen_key(7),
        following_key(7),
        timeline_key(9),
        timeline_key(9, "tea_drinks"),
        account_key(9),
        post_key(11),
        PULL_ACCOUNTS,
    ]
    assert {family_of(key) for key in keys} == set(WRITERS)


def test_a_key_outside_the_keyspace_has_no_family() -> None:
    with pytest.raises(ValueError, match="rate:1"):
        family_of("rate:1")


def test_a_users_keys_share_one_slot_and_an_accounts_keys_another() -> None:
    user_keys = [*all_feed_keys(7), seen_key(7), following_key(7)]
    account_keys = [timeline_key(9), timeline_key(9, "tea_drinks"), account_key(9)]
    assert len({key_slot(k.encode()) for k in user_keys}) == 1
    assert len({key_slot(k.encode()) for k in account_keys}) == 1


@pytest.mark.parametrize(
    ("service", "api", "other_api"),
    [(FANOUT, "writer", "reader"), (FEEDREAD, "reader", "writer")],
)
def test_a_service_writes_the_keyspace_only_through_its_own_api(
    service: str, api: str, other_api: str
) -> None:
    for path in (ROOT / "services" / service).glob("*.py"):
        source = path.read_text()
        assert f"shared.feedstore.{other_api}" not in source, path
        assert "shared.feedstore.scripts" not in source, path
        if "shared.feedstore.keys" in source:
            assert not WRITE_CALL.findall(source), f"{path} writes feed keys itself"
    assert any(
        f"shared.feedstore.{api}" in p.read_text()
        for p in (ROOT / "services" / service).glob("*.py")
    )


def test_no_other_service_touches_the_feed_keyspace() -> None:
    for path in (ROOT / "services").glob("*/*.py"):
        if path.parent.name not in (FANOUT, FEEDREAD):
            assert "shared.feedstore" not in path.read_text(), path
