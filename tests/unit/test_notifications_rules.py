"""Notification rules without servers: who is notified of what, and which group an event
joins (Mastodon's grouping: a group absorbs events until it spans 12 hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.domain import (
    GROUP_SPAN,
    NO_POST,
    Decision,
    Participation,
    Window,
    change_of_follow,
    change_of_interaction,
    decision_changes,
    effects_of_interaction,
    weight_after,
    window_for,
)
from shared.events import FollowChanged, PostInteraction

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _interaction(action: str, user: str = "7", owner: str = "5", **extra) -> PostInteraction:
    return PostInteraction(
        post_id="11",
        account_id=owner,
        user_id=user,
        action=action,
        at="2026-11-25T08:00:00.000Z",
        **extra,
    )


def test_a_like_notifies_the_posts_owner_in_the_liked_group_of_that_post():
    change = change_of_interaction(_interaction("like"))
    assert change is not None
    assert (change.recipient, change.kind, change.post_id, change.actor) == (5, "liked", 11, 7)
    assert change.step == "set" and change.at == T0


def test_unlike_vote_comment_and_uncomment_map_to_their_groups_and_steps():
    steps = {
        a: (c.kind, c.step)
        for a in ("unlike", "vote", "comment", "uncomment")
        if (c := change_of_interaction(_interaction(a, comment_id="3"))) is not None
    }
    assert steps == {
        "unlike": ("liked", "unset"),
        "vote": ("voted", "set"),
        "comment": ("commented", "add"),
        "uncomment": ("commented", "remove"),
    }


def test_an_owners_own_interaction_notifies_nobody():
    assert change_of_interaction(_interaction("like", user="5", owner="5")) is None


def test_a_follow_notifies_the_followed_account_with_its_source_and_version():
    event = FollowChanged(
        user_id="7",
        account_id="5",
        following=True,
        source="qr",
        version=3,
        at="2026-11-25T08:00:00.000Z",
    )
    change = change_of_follow(event)
    assert (change.recipient, change.kind, change.post_id) == (5, "followed", NO_POST)
    assert (change.step, change.source, change.version) == ("set", "qr", 3)
    unfollow = change_of_follow(FollowChanged(**{**event.__dict__, "following": False}))
    assert unfollow.step == "unset"


def test_a_group_absorbs_events_until_it_spans_twelve_hours():
    group = Window(1, T0, T0 + timedelta(hours=3))
    assert window_for([group], T0 + timedelta(hours=11, minutes=59)) == 1
    assert window_for([group], T0 + GROUP_SPAN) is None
    assert window_for([], T0) is None


def test_an_event_older_than_every_group_joins_the_oldest_while_its_span_allows():
    group = Window(1, T0, T0 + timedelta(hours=2))
    assert window_for([group], T0 - timedelta(hours=9)) == 1
    assert window_for([group], T0 - timedelta(hours=10)) is None


def test_an_event_joins_the_newest_group_started_before_it():
    older, newer = (
        Window(1, T0, T0 + timedelta(hours=1)),
        Window(2, T0 + GROUP_SPAN, T0 + GROUP_SPAN),
    )
    assert window_for([older, newer], T0 + GROUP_SPAN + timedelta(hours=1)) == 2
    assert window_for([older, newer], T0 + timedelta(hours=2)) == 1


def test_likes_count_once_and_comments_count_each_live_one():
    assert weight_after(1, "set") == 1 and weight_after(1, "unset") == 0
    assert weight_after(1, "add") == 2 and weight_after(2, "remove") == 1
    assert weight_after(0, "remove") == 0


def test_a_join_notifies_the_operator_and_adds_a_participant_a_leave_undoes_both():
    join, add = effects_of_interaction(_interaction("group_buy_join"))
    assert (join.kind, join.step, join.recipient, join.actor) == ("group_buy_joined", "set", 5, 7)
    assert add == Participation(post_id=11, user_id=7, joined=True)
    leave, remove = effects_of_interaction(_interaction("group_buy_leave"))
    assert leave.step == "unset" and remove == Participation(11, 7, joined=False)


def test_a_success_tells_each_participant_and_the_operator_a_failure_only_participants():
    won = decision_changes(Decision(11, operator=5, succeeded=True, at=T0), [7, 8, 5])
    assert {(c.recipient, c.kind, c.actor) for c in won} == {
        (7, "group_buy_succeeded", 5),
        (8, "group_buy_succeeded", 5),
        (5, "group_buy_succeeded", 7),
        (5, "group_buy_succeeded", 8),
    }
    lost = decision_changes(Decision(11, operator=5, succeeded=False, at=T0), [7])
    assert [(c.recipient, c.kind, c.actor) for c in lost] == [(7, "group_buy_failed", 5)]
