"""Notification rules, pure: which events notify whom of what, and which group an event
joins. Grouped as Mastodon groups since 2024: likes, votes, comments and group-buy joins
by (kind, post), follows by kind, a group absorbing events until it spans 12 hours.

A group buy's outcome notifies its participants, which no event names: this service
keeps each buy's participants from the joins and leaves, which come before the outcome
on the same partition (all three are keyed by the post)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.errors import DomainError
from shared.events import FollowChanged, GroupBuyDecided, PostInteraction
from shared.timeutil import parse_rfc3339

GROUP_SPAN = timedelta(hours=12)  # issue 12: a group keeps absorbing until it spans 12 hours
SAMPLE_ACCOUNTS = 8  # "@a, @b and 41 others": accounts a group names
NO_POST = 0  # post_id of the groups that are not about a post (follows)
KINDS = (
    "followed",
    "liked",
    "commented",
    "voted",
    "group_buy_joined",
    "group_buy_succeeded",
    "group_buy_failed",
)
# set/unset: the actor is in (weight 1) or out (0) — likes, votes, follows; a second set
# counts once. add/remove: one more or one fewer of the actor's comments.
Step = Literal["set", "unset", "add", "remove"]
GroupKey = tuple[int, str, int]  # (recipient, kind, post): what groups are made of

# Each notified interaction: the kind of group it counts in and its step.
INTERACTIONS: dict[str, tuple[str, Step]] = {
    "like": ("liked", "set"),
    "unlike": ("liked", "unset"),
    "vote": ("voted", "set"),  # a moved vote is still one voter
    "comment": ("commented", "add"),
    "uncomment": ("commented", "remove"),
    "group_buy_join": ("group_buy_joined", "set"),
    "group_buy_leave": ("group_buy_joined", "unset"),
}
JOINS = {"group_buy_join": True, "group_buy_leave": False}


@dataclass(frozen=True)
class Change:
    """What one event does to one recipient's notifications."""

    recipient: int
    kind: str
    post_id: int
    actor: int
    at: datetime
    step: Step
    version: int | None = None  # follows: the pair's version, newest wins
    source: str | None = None  # follows: api | qr | recommendation
    comment_id: int | None = None

    @property
    def key(self) -> GroupKey:
        """What groups are made of: (recipient, kind, post)."""
        return (self.recipient, self.kind, self.post_id)


@dataclass(frozen=True)
class Participation:
    """A user joined (or left) a group buy: who its outcome will notify."""

    post_id: int
    user_id: int
    joined: bool


@dataclass(frozen=True)
class Decision:
    """A group buy's outcome, to be told to its operator and participants."""

    post_id: int
    operator: int
    succeeded: bool
    at: datetime


Effect = Change | Participation | Decision  # what one event does here


@dataclass(frozen=True)
class Delivered:
    """An event's effects (none: nothing to notify) with its envelope id, the unit of
    deduplication."""

    event_id: str
    effects: Sequence[Effect] = field(default_factory=tuple)


class AccountsNotKnown(DomainError):
    """Actors whose accounts have not reached this service within the bounded wait."""

    code = "not_ready"


@dataclass(frozen=True)
class Window:
    """A group's id and the span of its events."""

    id: int
    first_at: datetime
    last_at: datetime


def change_of_follow(event: FollowChanged) -> Change:
    """A follow notifies the followed account; an unfollow takes the follower out."""
    return Change(
        recipient=int(event.account_id),
        kind="followed",
        post_id=NO_POST,
        actor=int(event.user_id),
        at=parse_rfc3339(event.at),
        step="set" if event.following else "unset",
        version=event.version,
        source=event.source,
    )


def change_of_interaction(event: PostInteraction) -> Change | None:
    """An interaction notifies the post's owner (named by publishing in the event, from
    the post row it wrote the interaction against); None for an owner's own interaction
    or an action this service does not notify of."""
    if event.action not in INTERACTIONS or event.user_id == event.account_id:
        return None
    kind, step = INTERACTIONS[event.action]
    return Change(
        recipient=int(event.account_id),
        kind=kind,
        post_id=int(event.post_id),
        actor=int(event.user_id),
        at=parse_rfc3339(event.at),
        step=step,
        comment_id=int(event.comment_id) if event.comment_id else None,
    )


def window_for(groups: Sequence[Window], at: datetime) -> int | None:
    """The group of one key an event at `at` joins, or None for a new group.

    The newest group starting at or before `at` takes it while it started less than
    GROUP_SPAN before; an event older than every group (events on different partitions
    arrive in any order) joins the oldest one that would still span less than GROUP_SPAN.
    """
    before = [g for g in groups if g.first_at <= at]
    if before:
        latest = max(before, key=lambda g: g.first_at)
        if at - latest.first_at < GROUP_SPAN:
            return latest.id
    after = [g for g in groups if g.first_at > at]
    if after:
        earliest = min(after, key=lambda g: g.first_at)
        if earliest.last_at - at < GROUP_SPAN:
            return earliest.id
    return None


def weight_after(weight: int, step: Step) -> int:
    """An actor's weight in a group after `step`."""
    return {"set": 1, "unset": 0, "add": weight + 1, "remove": max(weight - 1, 0)}[step]


def participation_of(event: PostInteraction) -> Participation | None:
    """A join or leave of a group buy; None for other interactions."""
    if event.action not in JOINS:
        return None
    return Participation(int(event.post_id), int(event.user_id), JOINS[event.action])


def effects_of_interaction(event: PostInteraction) -> list[Effect]:
    """What an interaction does: its owner's notification and, for a group buy, the
    participant list."""
    found = (change_of_interaction(event), participation_of(event))
    return [effect for effect in found if effect is not None]


def decision_of(event: GroupBuyDecided) -> Decision:
    return Decision(
        post_id=int(event.post_id),
        operator=int(event.account_id),
        succeeded=event.state == "succeeded",
        at=parse_rfc3339(event.decided_at),
    )


def decision_changes(decision: Decision, participants: Sequence[int]) -> list[Change]:
    """A buy's outcome as notifications: each participant learns it from the operator
    (group_buy_succeeded or group_buy_failed); the operator of a success gets one group
    of every participant. A failure tells the operator nothing (API.md)."""
    kind = "group_buy_succeeded" if decision.succeeded else "group_buy_failed"
    buyers = [p for p in participants if p != decision.operator]

    def change(recipient: int, actor: int) -> Change:
        return Change(recipient, kind, decision.post_id, actor, decision.at, "set")

    told = [change(buyer, decision.operator) for buyer in buyers]
    if decision.succeeded:
        told.extend(change(decision.operator, buyer) for buyer in buyers)
    return told
