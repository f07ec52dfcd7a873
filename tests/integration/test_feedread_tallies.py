"""Feedread's post tallies on the real Redis: the highest tally_version wins, a tally that
arrives before its post is kept, and a served post carries them in its vote and group buy."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from services.feedread.store import FeedStore
from shared.events import PostPublished, PostTallied
from shared.ids import IdGenerator
from shared.posts import PostView

ids = IdGenerator(worker=1013)
GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "golden" / "post_view.json"


def a_post() -> PostView:
    """The golden post (a vote and a group buy) under a new id."""
    golden = msgspec.json.decode(GOLDEN.read_bytes(), type=PostView)
    return msgspec.structs.replace(golden, id=str(ids.next_id()))


def tallied(post: PostView, version: int, counts: list[int], joined: int) -> PostTallied:
    return PostTallied(
        post_id=post.id,
        account_id=post.account_id,
        tally_version=version,
        vote_counts=counts,
        vote_total=sum(counts),
        group_buy_participants=joined,
        group_buy_state="open",
    )


async def served(store: FeedStore, post: PostView) -> PostView:
    """The post as a page serves it, read afresh (a new store: no cached body)."""
    (found,) = await FeedStore(store.keyspace.redis, 600).posts([post.id.encode()])
    assert found is not None
    return found.view()


async def test_a_tally_before_its_post_is_kept_and_an_older_one_never_rolls_it_back(redis):
    store = FeedStore(redis, active_ttl_s=600)
    post = a_post()
    await store.apply_tallies([tallied(post, 3, [5, 2], 40)])
    await store.apply_post_published(PostPublished.of(post, int(time.time() * 1000)))
    view = await served(store, post)
    assert (view.vote.counts, view.vote.total) == ([5, 2], 7)
    assert (view.group_buy.participants, view.group_buy.state) == (40, "open")

    # A redelivered older tally, in a batch and on its own, changes nothing.
    await store.apply_tallies([tallied(post, 4, [6, 2], 41), tallied(post, 2, [1, 0], 1)])
    await store.apply_tallies([tallied(post, 1, [0, 0], 0)])
    view = await served(store, post)
    assert (view.vote.counts, view.vote.total, view.group_buy.participants) == ([6, 2], 8, 41)
    # Every other field is the post's own.
    assert msgspec.structs.replace(view, vote=post.vote, group_buy=post.group_buy) == post
