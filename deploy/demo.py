"""A short scripted walk through the public HTTP API of a running stack (`make run`).

Staff issue an invitation; a seller signs up with it; consumers follow; the seller
publishes; a consumer's feed is printed once the post has reached it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import WeitaoClient
from shared.config import Env


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


async def main() -> None:
    env = Env.from_os()
    suffix = secrets.token_hex(3)
    async with aiohttp.ClientSession() as session:
        api = WeitaoClient(session, WeitaoClient.urls_from_env(env), env.str("WEITAO_JWT_SECRET"))
        code = await api.create_invitation(max_uses=1, kinds=["seller"])
        say(f"staff issued invitation code {code}")
        shop = await api.create_account(
            f"tea_shop_{suffix}",
            "seller",
            display_name="西湖茶庄",
            category="tea_drinks",
            invitation_code=code,
        )
        say(f"seller @{shop['handle']} ({shop['display_name']}) signed up: id {shop['id']}")
        fans = [
            await api.create_account(f"fan_{i}_{suffix}", display_name=f"茶友{i}") for i in range(3)
        ]
        for fan in fans:
            await api.follow(fan["id"], shop["id"])
        say(f"{len(fans)} consumers follow @{shop['handle']}")
        # Each run's post carries its own batch code: the same text from another shop
        # would be refused as copied content (409 duplicate_content).
        batch = secrets.token_hex(8).upper()
        body = f"今年的明前龙井到了，限量 200 罐。批次 {batch}"
        post = await api.publish(shop["id"], "明前龙井上新", body, category="tea_drinks")
        say(
            f"seller published post {post['id']} (quota {post['quota']['used']}/"
            f"{post['quota']['limit']} today)"
        )
        started = time.monotonic()
        while True:
            page = await api.feed(fans[0]["id"])
            if any(item["post"]["id"] == post["id"] for item in page["items"]):
                break
            if time.monotonic() - started > 30:
                raise SystemExit("[demo] the post did not reach the feed within 30 s")
            await asyncio.sleep(0.05)
        say(
            f"@{fans[0]['handle']}'s feed, {(time.monotonic() - started) * 1000:.0f} ms after "
            "publishing:"
        )
        for item in page["items"]:
            say(
                f"  [{item['post']['category']}] {item['account']['display_name']}: "
                f"{item['post']['title']} — {item['post']['body']}"
            )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help only
    asyncio.run(main())
