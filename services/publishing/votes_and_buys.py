"""Votes and group buys (团购) once published: which option a vote names, whether a buy
may still be joined, when it is full and how it comes out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from services.publishing.domain import (
    GroupBuyClosed,
    InvalidPost,
    NotAGroupBuy,
    NotAVote,
    VoteClosed,
)
from shared.timeutil import parse_rfc3339

GroupBuyState = Literal["open", "succeeded", "failed"]


class CastVote(msgspec.Struct, forbid_unknown_fields=True):
    # The option's text, or its position (0-based) in the post's options.
    option: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
        | Annotated[int, msgspec.Meta(ge=0, le=5)]
    )


def vote_option(post_kind: str, vote: dict | None, choice: str | int, now: datetime) -> int:
    """The index of the chosen option of a vote post that is still open."""
    if post_kind != "vote" or not vote:
        raise NotAVote("this post is not a vote")
    closes_at = vote.get("closes_at")
    if closes_at is not None and parse_rfc3339(closes_at) <= now:
        raise VoteClosed("this vote has closed", closed_at=closes_at)
    options: list[str] = vote["options"]
    if isinstance(choice, int):
        if choice < len(options):
            return choice
    elif choice in options:
        return options.index(choice)
    raise InvalidPost("option is not one of this vote's options", field="$.option")


@dataclass(frozen=True)
class OpenBuy:
    """A group buy post as a join or leave finds it, its row locked."""

    post_id: int
    account_id: int
    kind: str
    terms: dict[str, Any] | None  # the post's group_buy attachment
    participants: int
    state: str | None


def joinable(buy: OpenBuy, now: datetime) -> dict[str, Any]:
    """The terms of a group buy still open at `now`; NotAGroupBuy or GroupBuyClosed."""
    if buy.kind != "group_buy" or buy.terms is None:
        raise NotAGroupBuy("this post is not a group buy")
    if buy.state != "open" or parse_rfc3339(buy.terms["ends_at"]) <= now:
        raise GroupBuyClosed("this group buy has ended", state=buy.state)
    return buy.terms


def is_full(terms: dict[str, Any], participants: int) -> bool:
    """Whether a buy with `participants` has reached its max_participants, if it has one."""
    limit = terms.get("max_participants")
    return limit is not None and participants >= limit


def outcome(terms: dict[str, Any], participants: int) -> GroupBuyState:
    """How a buy that ends (or fills) with `participants` comes out."""
    return "succeeded" if participants >= terms["min_participants"] else "failed"
