"""A new post as a request carries it (the kinds and their attachments, a comment) and
the cross-field rules msgspec cannot express (check_post). No I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args

import msgspec

from services.publishing.domain import InvalidPost
from shared.vocabulary import Category

PostKind = Literal["article", "product", "discount", "vote", "video", "group_buy"]
GROUP_BUY_HORIZON = timedelta(days=7)  # API.md: a group buy ends at most 7 days ahead
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
        if aware(new.discount.ends_at, "$.discount.ends_at") <= now:
            raise InvalidPost("discount must end in the future", field="$.discount.ends_at")
    if new.vote is not None:
        if len(set(new.vote.options)) != len(new.vote.options):
            raise InvalidPost("vote options must differ", field="$.vote.options")
        if new.vote.closes_at is not None and aware(new.vote.closes_at, "$.vote.closes_at") <= now:
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
    ends_at = aware(buy.ends_at, "$.group_buy.ends_at")
    if not now < ends_at <= now + GROUP_BUY_HORIZON:
        raise InvalidPost(
            "a group buy ends in the future, at most 7 days ahead", field="$.group_buy.ends_at"
        )


def aware(moment: datetime, field: str) -> datetime:
    """The moment, if it says its offset; InvalidPost naming the field otherwise."""
    if moment.tzinfo is None:
        raise InvalidPost("time needs an offset (e.g. Z)", field=field)
    return moment
