"""The post as feeds show it, typed once: `PostView` is the `post` of the post.published
event (shared.events.PostPublished.view), what feedread keeps and serves as a feed item's
post, and publishing's post responses without their counters.

Fields are add-only, like an event's (an added one gets a default); decoding ignores
fields it does not know, so an older reader takes a newer writer's posts. The attachment
Structs keep the limits publishing validates them with, so the JSON Schema of a response
built from them is as strict as the request's. tests/unit/golden/post_view.json holds
every field.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Url = Annotated[str, msgspec.Meta(pattern=r"^https?://\S{1,2000}$")]
Text60 = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Cents = Annotated[int, msgspec.Meta(ge=0, le=10**11)]
PositiveCents = Annotated[int, msgspec.Meta(ge=1, le=10**11)]
# Times travel as RFC 3339 strings (shared.timeutil.rfc3339), kept as written.
Moment = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
GroupBuyState = Literal["open", "succeeded", "failed"]


class Product(msgspec.Struct, forbid_unknown_fields=True):
    item_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    title: Text60
    price_cents: Cents


class Discount(msgspec.Struct, forbid_unknown_fields=True):
    price_cents: Cents
    original_price_cents: PositiveCents
    ends_at: Moment


class VoteResults(msgspec.Struct):
    options: list[str]
    closes_at: Moment | None
    counts: list[int]  # votes per option, in the options' order
    total: int


class Video(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    duration_s: Annotated[int, msgspec.Meta(ge=1, le=24 * 3600)]


class GroupBuyView(msgspec.Struct):
    item_id: str
    title: str
    price_cents: int
    original_price_cents: int
    min_participants: int
    max_participants: int | None
    ends_at: Moment
    participants: int
    state: GroupBuyState


class PostView(msgspec.Struct, kw_only=True):
    """A post as API.md shows it, without counters."""

    id: str
    account_id: str
    kind: str
    title: str
    body: str
    category: str
    images: list[str]
    products: list[Product] | None
    discount: Discount | None
    vote: VoteResults | None
    video: Video | None
    created_at: Moment
    group_buy: GroupBuyView | None = None


def decode_post(raw: bytes) -> PostView:
    """A PostView from JSON bytes; msgspec.ValidationError naming the field if it is not one."""
    return _DECODER.decode(raw)


def encode_post(post: PostView) -> bytes:
    """A PostView as JSON bytes (every field, nulls included)."""
    return _ENCODER.encode(post)


_DECODER = msgspec.json.Decoder(PostView)
_ENCODER = msgspec.json.Encoder()
