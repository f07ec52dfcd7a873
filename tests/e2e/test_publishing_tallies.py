"""post.tallied (shared.events.PostTallied): publishing announces a post's tallies after
every change of them, in the transaction of the change, with a per-post version that
grows, so readers keeping the highest version show exact counts."""

from __future__ import annotations

import asyncio
from collections import Counter

from shared import topics
from shared.events import Envelope, PostTallied, decode
from tests.e2e.test_group_buys import participant, terms
from tests.e2e.test_vote_results import OPTIONS, cast
from tests.support import bulk_consumers, eventually, publish, records_keyed, seller


async def tallies_of(stack, shop_id: str, post_id: str) -> list[PostTallied]:
    """The post.tallied events of a post, in the order they were published."""
    records = await records_keyed(stack.str("WEITAO_KAFKA_BOOTSTRAP"), [topics.POSTS], {shop_id})
    found = (decode(Envelope.decode(r.value)) for r in records)
    return [e for e in found if isinstance(e, PostTallied) and e.post_id == post_id]


async def test_two_hundred_concurrent_votes_are_tallied_with_growing_versions(api, stack):
    shop = await seller(api, "home")
    post = await publish(api, shop, "which colour?", kind="vote", vote={"options": OPTIONS})
    voters = await bulk_consumers(api, 200)
    first = {user: index % 3 for index, user in enumerate(voters)}
    replies = await asyncio.gather(*(cast(api, post["id"], u, o) for u, o in first.items()))
    assert {r.status for r in replies} == {204}
    movers = voters[:20]
    final = dict(first) | {user: (first[user] + 1) % 3 for user in movers}
    # Each mover twice: the second finds the vote already there, which tallies nothing.
    moves = [cast(api, post["id"], u, final[u]) for u in movers for _ in range(2)]
    assert {r.status for r in await asyncio.gather(*moves)} == {204}

    tallied = await eventually(
        lambda: tallies_of(stack, shop["id"], post["id"]),
        lambda found: len(found) >= 220,
        what="a post.tallied per vote cast or moved",
    )
    assert [e.tally_version for e in tallied] == list(range(1, 221))
    truth = Counter(final.values())
    newest = tallied[-1]
    assert newest.vote_counts == [truth[i] for i in range(3)] and newest.vote_total == 200
    assert all(sum(e.vote_counts or []) == e.vote_total for e in tallied)
    assert {e.group_buy_state for e in tallied} == {None}


async def test_joins_leaves_and_the_outcome_of_a_group_buy_are_tallied(api, stack):
    shop = await seller(api, "tea_drinks")
    post = await publish(api, shop, "团购", kind="group_buy", group_buy=terms(max_participants=3))
    a, b, c = await bulk_consumers(api, 3)
    for user, method in ((a, "PUT"), (b, "PUT"), (b, "DELETE"), (b, "PUT"), (c, "PUT")):
        (await participant(api, post["id"], user, method)).expect(204)

    tallied = await eventually(
        lambda: tallies_of(stack, shop["id"], post["id"]),
        lambda found: len(found) >= 6,
        what="tallies of four joins, a leave and the outcome",
    )
    assert [(e.tally_version, e.group_buy_participants, e.group_buy_state) for e in tallied] == [
        (1, 1, "open"),
        (2, 2, "open"),
        (3, 1, "open"),
        (4, 2, "open"),
        (5, 3, "open"),
        (6, 3, "succeeded"),
    ]
    assert {e.vote_counts for e in tallied} == {None}
