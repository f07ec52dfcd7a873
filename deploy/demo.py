"""A short scripted walk through the public HTTP API of a running stack (`make run`).

Staff issue an invitation; a seller signs up with it; consumers follow; the seller
publishes; a consumer's feed is printed once the post has reached it; fans like, view and
buy; fans vote on a poll, whose tally shows in a follower's feed; two fans fill a group buy
(团购), which succeeds; the seller's grouped notifications, a shopper's, the seller's day
of stats and the official list end it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
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
        await engage(api, shop, fans, post)
        await vote_in_feed(api, shop, fans, batch)
        buy = await group_buy(api, shop, fans[1:], batch)
        await operator_view(api, shop)
        await shopper_view(api, fans[1], buy)


async def engage(api: WeitaoClient, shop: dict, fans: list[dict], post: dict) -> None:
    """Every fan likes the post; two view it, one buys."""
    for fan in fans:
        await api.call(
            "publishing",
            "PUT",
            f"/v1/posts/{post['id']}/likes/{fan['id']}",
            as_=(fan["id"], "user"),
        )
    events = [
        {
            "type": "view",
            "user_id": fan["id"],
            "account_id": shop["id"],
            "post_id": post["id"],
            "dwell_ms": 4200,
        }
        for fan in fans[:2]
    ]
    events.append(
        {
            "type": "purchase",
            "user_id": fans[0]["id"],
            "account_id": shop["id"],
            "post_id": post["id"],
            "order_id": f"demo-{post['id']}",
            "amount_cents": 16800,
        }
    )
    reply = await api.call(
        "feedread", "POST", "/v1/events", as_=("gateway", "service"), json={"events": events}
    )
    say(f"{len(fans)} fans liked the post; views and a purchase reported ({reply.status})")


async def until(check, what: str, timeout_s: float = 30.0):
    """The first truthy result of `check()`, polled; exits the demo after `timeout_s`."""
    started = time.monotonic()
    while not (found := await check()):
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"[demo] {what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.1)
    return found


async def vote_in_feed(api: WeitaoClient, shop: dict, fans: list[dict], batch: str) -> None:
    """The seller asks a question; every fan votes; the tally shows in a follower's feed."""
    options = ["龙井", "碧螺春", "白茶"]
    poll = await api.publish(
        shop["id"],
        "下一批上什么茶？",
        f"投票决定。批次 {batch}",
        kind="vote",
        vote={"options": options},
    )
    for index, fan in enumerate(fans):
        await api.call(
            "publishing",
            "PUT",
            f"/v1/posts/{poll['id']}/votes/{fan['id']}",
            as_=(fan["id"], "user"),
            json={"option": index % 2},
        )

    async def tallied() -> dict | None:
        page = await api.feed(fans[0]["id"])
        shown = [i["post"]["vote"] for i in page["items"] if i["post"]["id"] == poll["id"]]
        return shown[0] if shown and shown[0]["total"] == len(fans) else None

    vote = await until(tallied, "the poll's tally in the feed")
    counts = ", ".join(f"{o} {c}" for o, c in zip(vote["options"], vote["counts"], strict=True))
    say(f"{len(fans)} fans voted; @{fans[0]['handle']}'s feed shows the tally: {counts}")


async def group_buy(api: WeitaoClient, shop: dict, shoppers: list[dict], batch: str) -> dict:
    """A group buy for two; both shoppers join, which fills it: it succeeds at once."""
    ends_at = datetime.now(UTC) + timedelta(hours=2)
    terms = {
        "item_id": f"longjing-{batch}",
        "title": "明前龙井 250g 两人团",
        "price_cents": 9900,
        "original_price_cents": 16800,
        "min_participants": 2,
        "max_participants": 2,
        "ends_at": ends_at.isoformat(),
    }
    buy = await api.publish(
        shop["id"],
        "两人成团",
        f"两人成团，99 元。批次 {batch}",
        kind="group_buy",
        group_buy=terms,
    )
    for shopper in shoppers:
        reply = await api.call(
            "publishing",
            "PUT",
            f"/v1/posts/{buy['id']}/group-buy/participants/{shopper['id']}",
            as_=(shopper["id"], "user"),
        )
        reply.expect(204)
    post = await api.call("publishing", "GET", f"/v1/posts/{buy['id']}", as_=("demo", "service"))
    state = post.expect(200)["group_buy"]
    say(
        f"group buy {buy['id']}: {state['participants']}/{terms['max_participants']} joined, "
        f"{state['state']}"
    )
    return buy


async def shopper_view(api: WeitaoClient, shopper: dict, buy: dict) -> None:
    """A shopper who joined learns the buy succeeded."""

    async def told() -> list[dict] | None:
        reply = await api.call(
            "notifications",
            "GET",
            f"/v1/users/{shopper['id']}/notifications",
            as_=(shopper["id"], "user"),
        )
        items = (reply.body or {}).get("items", []) if reply.status == 200 else []
        return [g for g in items if g["post_id"] == buy["id"]] or None

    for group in await until(told, "the shopper's group-buy notification"):
        names = ", ".join(f"@{a['handle']}" for a in group["sample_accounts"])
        say(f"@{shopper['handle']}'s notification: {group['kind']} ({names})")


async def operator_view(api: WeitaoClient, shop: dict) -> None:
    """What the seller sees: grouped notifications, today's stats, the official list."""
    me = (shop["id"], "user")
    started = time.monotonic()
    while time.monotonic() - started < 30:
        notes = await api.call(
            "notifications", "GET", f"/v1/users/{shop['id']}/notifications", as_=me
        )
        stats = await api.call(
            "insights", "GET", f"/v1/accounts/{shop['id']}/stats", as_=me, params={"days": 1}
        )
        kinds = {g["kind"]: g["count"] for g in (notes.body or {}).get("items", [])}
        day = (stats.body or {}).get("items", [{}])[-1] if stats.status == 200 else {}
        expected = {"liked": 3, "voted": 3, "group_buy_joined": 2, "group_buy_succeeded": 2}
        if all(kinds.get(k) == n for k, n in expected.items()) and day.get("purchases"):
            break
        await asyncio.sleep(0.5)
    for group in (notes.body or {}).get("items", []):
        names = ", ".join(f"@{a['handle']}" for a in group["sample_accounts"])
        say(f"notification: {group['kind']} x{group['count']} ({names})")
    say(
        f"today's stats: followers {day.get('followers_total')}, views {day.get('views')}, "
        f"visitors {day.get('unique_visitors')}, purchases {day.get('purchases')}, "
        f"GMV {day.get('gmv_cents', 0) / 100:.2f} yuan, conversion {day.get('conversion_rate')}"
    )
    official = await api.call("insights", "GET", "/v1/recommendations/official", as_=me)
    for rank, item in enumerate((official.body or {}).get("items", [])[:5], start=1):
        say(f"official #{rank}: {item['account'].get('handle')} score {item['score']:.3f}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help only
    asyncio.run(main())
