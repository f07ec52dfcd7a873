"""Publishing rules: post kinds and their validation, the Shanghai-day quota. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo

import msgspec

from services.publishing import similarity
from shared.errors import DomainError
from shared.events import AccountChanged
from shared.ids import id_time_ms
from shared.timeutil import epoch_ms, parse_rfc3339, rfc3339
from shared.vocabulary import Category

SHANGHAI = ZoneInfo("Asia/Shanghai")
# An account id minted this recently may still be on its way over Kafka; an unknown id
# older than this is taken to be no account at all (insights decides the same way).
IN_FLIGHT_MS = 60_000
PostKind = Literal["article", "product", "discount", "vote", "video", "group_buy"]
GROUP_BUY_HORIZON = timedelta(days=7)  # API.md: a group buy ends at most 7 days ahead
GroupBuyState = Literal["open", "succeeded", "failed"]
Url = Annotated[str, msgspec.Meta(pattern=r"^https?://\S{1,2000}$")]
Text60 = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]


class Product(msgspec.Struct, forbid_unknown_fields=True):
    item_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    title: Text60
    price_cents: Annotated[int, msgspec.Meta(ge=0, le=10**11)]


class Discount(msgspec.Struct, forbid_unknown_fields=True):
    price_cents: Annotated[int, msgspec.Meta(ge=0, le=10**11)]
    original_price_cents: Annotated[int, msgspec.Meta(ge=1, le=10**11)]
    ends_at: datetime


class Vote(msgspec.Struct, forbid_unknown_fields=True):
    options: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=60)]],
        msgspec.Meta(min_length=2, max_length=6, extra_json_schema={"uniqueItems": True}),
    ]
    closes_at: datetime | None = None


class Video(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    duration_s: Annotated[int, msgspec.Meta(ge=1, le=24 * 3600)]


Participants = Annotated[int, msgspec.Meta(ge=2, le=10_000)]


class GroupBuy(msgspec.Struct, forbid_unknown_fields=True):
    item_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    title: Text60
    price_cents: Annotated[int, msgspec.Meta(ge=0, le=10**11)]
    original_price_cents: Annotated[int, msgspec.Meta(ge=1, le=10**11)]
    min_participants: Participants
    ends_at: datetime
    max_participants: Participants | None = None


class NewPost(msgspec.Struct, forbid_unknown_fields=True):
    kind: PostKind
    title: Text60
    body: Annotated[str, msgspec.Meta(max_length=5000)]
    images: Annotated[list[Url], msgspec.Meta(max_length=9)] = []
    products: Annotated[list[Product], msgspec.Meta(min_length=1, max_length=20)] | None = None
    discount: Discount | None = None
    vote: Vote | None = None
    video: Video | None = None
    category: Category | None = None
    group_buy: GroupBuy | None = None

    # check_post's per-kind rules, for /openapi.json (set below, once the rules exist).
    openapi_rules: ClassVar[dict[str, Any]] = {}


class NewComment(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class CastVote(msgspec.Struct, forbid_unknown_fields=True):
    # The option's text, or its position (0-based) in the post's options.
    option: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
        | Annotated[int, msgspec.Meta(ge=0, le=5)]
    )


# ---------------------------------------------------------------- errors


class PublishingError(DomainError):
    code = "publishing_error"


class InvalidPost(PublishingError):
    code = "validation_error"


class AuthorNotFound(PublishingError):
    code = "not_found"


class AuthorNotReady(PublishingError):
    """The account may exist but its event has not reached publishing yet (API.md "Projections")."""

    code = "not_ready"


class NotAnOperator(PublishingError):
    code = "not_an_operator"


class AccountSuspended(PublishingError):
    code = "account_suspended"


class DailyQuotaExceeded(PublishingError):
    code = "daily_quota_exceeded"


class PostNotFound(PublishingError):
    code = "not_found"


class DuplicateContent(PublishingError):
    code = "duplicate_content"


class NotAVote(PublishingError):
    code = "not_a_vote"


class VoteClosed(PublishingError):
    code = "vote_closed"


class NotAGroupBuy(PublishingError):
    code = "not_a_group_buy"


class GroupBuyClosed(PublishingError):
    code = "group_buy_closed"


class CommentNotFound(PublishingError):
    code = "not_found"


class NotAllowed(PublishingError):
    code = "forbidden"


# ---------------------------------------------------------------- rules

# Which attachment each kind requires; an attachment of another kind is refused so a
# client cannot send, say, a vote inside a video post and have it silently dropped.
_REQUIRED = {
    "product": "products",
    "discount": "discount",
    "vote": "vote",
    "video": "video",
    "group_buy": "group_buy",
}
_EXCLUSIVE = ("discount", "vote", "video", "group_buy")


def _kind_rule(kind: str) -> dict[str, Any]:
    """check_post's rules for one kind, as JSON Schema (for /openapi.json)."""
    needed = _REQUIRED.get(kind)
    props: dict[str, Any] = {"kind": {"enum": [kind]}}
    props.update({name: {"type": "null"} for name in _EXCLUSIVE if name != kind})
    rule: dict[str, Any] = {"properties": props}
    if needed:
        props[needed] = {"not": {"type": "null"}}
        rule["required"] = [needed]
    return rule


NewPost.openapi_rules = {"anyOf": [_kind_rule(kind) for kind in get_args(PostKind)]}


def check_post(new: NewPost, now: datetime) -> None:
    """Cross-field rules msgspec cannot express; raises InvalidPost naming the field."""
    needed = _REQUIRED.get(new.kind)
    if needed and getattr(new, needed) is None:
        raise InvalidPost(f"a {new.kind} post needs `{needed}`", field=f"$.{needed}")
    for name in _EXCLUSIVE:
        if getattr(new, name) is not None and new.kind != name:
            raise InvalidPost(f"`{name}` belongs to {name} posts only", field=f"$.{name}")
    if new.discount is not None:
        if new.discount.price_cents >= new.discount.original_price_cents:
            raise InvalidPost(
                "discount price must be below the original price", field="$.discount.price_cents"
            )
        if _aware(new.discount.ends_at, "$.discount.ends_at") <= now:
            raise InvalidPost("discount must end in the future", field="$.discount.ends_at")
    if new.vote is not None:
        if len(set(new.vote.options)) != len(new.vote.options):
            raise InvalidPost("vote options must differ", field="$.vote.options")
        if new.vote.closes_at is not None and _aware(new.vote.closes_at, "$.vote.closes_at") <= now:
            raise InvalidPost("vote must close in the future", field="$.vote.closes_at")
    if new.group_buy is not None:
        check_group_buy(new.group_buy, now)


def check_group_buy(buy: GroupBuy, now: datetime) -> None:
    """A group buy's cross-field rules; InvalidPost naming the field."""
    if buy.price_cents >= buy.original_price_cents:
        raise InvalidPost(
            "group price must be below the original price", field="$.group_buy.price_cents"
        )
    if buy.max_participants is not None and buy.max_participants < buy.min_participants:
        raise InvalidPost(
            "max_participants must be at least min_participants",
            field="$.group_buy.max_participants",
        )
    ends_at = _aware(buy.ends_at, "$.group_buy.ends_at")
    if not now < ends_at <= now + GROUP_BUY_HORIZON:
        raise InvalidPost(
            "a group buy ends in the future, at most 7 days ahead", field="$.group_buy.ends_at"
        )


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidPost("time needs an offset (e.g. Z)", field=field)
    return moment


def shanghai_day(moment: datetime) -> date:
    """The Asia/Shanghai calendar day a moment falls in (the quota's day)."""
    return moment.astimezone(SHANGHAI).date()


def quota_resets_at(moment: datetime) -> datetime:
    """The next Asia/Shanghai midnight after `moment`, as an aware datetime."""
    next_day = shanghai_day(moment) + timedelta(days=1)
    return datetime.combine(next_day, time(0), tzinfo=SHANGHAI)


def check_quota(used_today: int, limit: int, now: datetime) -> None:
    if used_today >= limit:
        resets = quota_resets_at(now)
        raise DailyQuotaExceeded(
            f"at most {limit} posts per Shanghai day",
            limit=limit,
            resets_at=rfc3339(resets),
        )


@dataclass(frozen=True)
class Author:
    """Publishing's copy of an account: what decides whether it may publish."""

    kind: str
    category: str | None
    status: str


def check_author(author: Author | None) -> Author:
    """Only operator accounts in good standing publish; returns the author that may."""
    if author is None:
        raise AuthorNotFound("account not found (or not yet known to publishing)")
    if author.kind == "consumer":
        raise NotAnOperator("consumer accounts cannot publish")
    if author.status == "suspended":
        raise AccountSuspended("a suspended account cannot publish")
    return author


def maybe_in_flight(account_id: int, now: datetime) -> bool:
    """Whether an account id was minted so recently that its event may not have arrived."""
    return 0 <= epoch_ms(now) - id_time_ms(account_id) < IN_FLIGHT_MS


def refuse_near_copy(signature: list[int], candidates: list[tuple[int, list[int]]]) -> None:
    """DuplicateContent naming the most similar (then the oldest) of the (post id,
    signature) candidates when it is a near-copy of `signature`."""
    scored = [(similarity.similarity(signature, sig), -post_id) for post_id, sig in candidates]
    best = max(scored, default=None)
    if best is not None and best[0] >= similarity.NEAR_COPY:
        raise DuplicateContent(
            "this text copies another account's post",
            original_post_id=str(-best[1]),
            similarity=round(best[0], 2),
        )


@dataclass(frozen=True)
class AccountChange:
    """An account.changed event and when accounts made the change (None: not said)."""

    event: AccountChanged
    at: datetime | None

    @classmethod
    def of(cls, event: AccountChanged) -> AccountChange:
        return cls(event, parse_rfc3339(event.changed_at) if event.changed_at else None)


@dataclass(frozen=True)
class SuspensionWindow:
    """The time an account was suspended: from `since`, until `until` (None: still is)."""

    account_id: int
    since: datetime
    until: datetime | None


def suspension_windows(
    changes: list[AccountChange], known_versions: dict[int, int]
) -> list[SuspensionWindow]:
    """The suspensions among changes newer than the version publishing knows of each
    account, each ended by the account's next change to another status, if any is here."""
    windows: list[SuspensionWindow] = []
    opened: dict[int, datetime] = {}
    for change in sorted(changes, key=lambda c: c.event.version):
        account_id = int(change.event.account_id)
        if change.event.version <= known_versions.get(account_id, 0):
            continue  # already applied: its retractions were made with it
        suspended = change.event.status == "suspended"
        if change.at is None:
            continue  # an event older than `changed_at`: the time it opened or closed is unknown
        if suspended and account_id not in opened:
            opened[account_id] = change.at
        elif not suspended and account_id in opened:
            windows.append(SuspensionWindow(account_id, opened.pop(account_id), change.at))
    windows.extend(
        SuspensionWindow(account_id, since, None) for account_id, since in opened.items()
    )
    return windows


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


# ---------------------------------------------------------------- group buys


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
