"""Two fanout and two feedread processes side by side; one fanout process is killed in
the middle of a 50,000-follower fan-out, and every follower still gets the post."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request

import asyncpg

from bench.client import WeitaoClient
from shared.feedstore.keys import SEEN_READY, feed_key, seen_key
from shared.feedstore.packed import decode_entries
from tests.conftest import ROOT
from tests.support import bulk_consumers, bulk_follow, eventually, publish, seller

FOLLOWERS = 50_000
EXTRA_PORTS = {"fanout": (18083, 18183), "feedread": (18084,)}


def start(service: str, port: int, **env: str) -> subprocess.Popen:
    with open(ROOT / ".run" / "logs" / f"{service}-{port}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, f"WEITAO_{service.upper()}_PORT": str(port), **env},
        )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def stack_command(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy" / "localstack.py"), *args], check=True)


async def delivered_to(redis, users: list[str], post_id: str) -> int:
    count = 0
    for start_at in range(0, len(users), 5000):
        async with redis.pipeline(transaction=False) as pipe:
            for user in users[start_at : start_at + 5000]:
                pipe.lrange(feed_key(user), 0, -1)
            feeds = [{m for m, _ in decode_entries(raw)} for raw in await pipe.execute()]
            count += sum(post_id.encode() in feed for feed in feeds)
    return count


async def test_killing_one_of_two_fanout_processes_mid_fanout_loses_no_delivery(api, redis, stack):
    # Replace the stack's fanout by two processes that push to 50,000 followers (the
    # stack may pull from fewer) in chunks of 1,000; add a second feedread beside the
    # stack's.
    stack_command("stop", "fanout")
    pair = {"WEITAO_PULL_THRESHOLD": str(10 * FOLLOWERS), "WEITAO_FANOUT_CHUNK": "1000"}
    fanouts = [start("fanout", port, **pair) for port in EXTRA_PORTS["fanout"]]
    feedread = start("feedread", EXTRA_PORTS["feedread"][0])
    try:
        await eventually(
            lambda: asyncio.to_thread(
                lambda: all(ready(p) for p in (*EXTRA_PORTS["fanout"], *EXTRA_PORTS["feedread"]))
            ),
            bool,
            timeout_s=60,
            what="extra processes ready",
        )
        shop = await seller(api)
        users = await bulk_consumers(api, FOLLOWERS)
        async with redis.pipeline(transaction=False) as pipe:  # all of them read recently
            for user in users:
                pipe.set(seen_key(user), SEEN_READY, ex=3600)
            await pipe.execute()
        await bulk_follow(api, users, shop["id"])
        pool = await asyncpg.connect(stack.str("WEITAO_POSTGRES_DSN"))
        try:
            await eventually(
                lambda: pool.fetchval(
                    "SELECT followers FROM fanout.account_modes WHERE account_id = $1",
                    int(shop["id"]),
                ),
                lambda n: n == FOLLOWERS,
                timeout_s=120,
                what="fanout knows all followers",
            )
        finally:
            await pool.close()
        await asyncio.sleep(3)  # both fanout members joined the groups
        post = await publish(api, shop, "a big fan-out")
        started = time.monotonic()
        sample = users[:: len(users) // 50]
        await eventually(
            lambda: delivered_to(redis, sample, post["id"]),
            lambda n: n > 0,
            timeout_s=30,
            what="fan-out under way",
        )
        fanouts[1].send_signal(signal.SIGKILL)  # mid fan-out, no goodbye to the group
        at_kill = await delivered_to(redis, users, post["id"])

        await eventually(
            lambda: delivered_to(redis, users, post["id"]),
            lambda n: n == FOLLOWERS,
            timeout_s=120,
            what="every follower",
        )
        print(
            f"\n{at_kill} of {FOLLOWERS} delivered when one fanout process was killed; "
            f"all after {time.monotonic() - started:.1f} s"
        )
        assert at_kill < FOLLOWERS
        async with redis.pipeline(transaction=False) as pipe:
            for user in users[:1000]:
                pipe.llen(feed_key(user))
            assert set(await pipe.execute()) == {1}  # the post, once

        other = WeitaoClient(
            api.session,
            {**api.urls, "feedread": f"http://127.0.0.1:{EXTRA_PORTS['feedread'][0]}"},
            api.secret,
        )
        for user in users[:5]:
            for client in (api, other):
                page = await client.feed(user)
                assert [i["post"]["id"] for i in page["items"]] == [post["id"]]
    finally:
        for process in [*fanouts, feedread]:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        stack_command("start", "fanout")
