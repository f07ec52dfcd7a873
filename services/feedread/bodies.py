"""Post and account bodies as a page serves them: JSON encoded once (a post's merged with
its newest tallies), which the page rules read like a dict without decoding the whole
post and the response embeds as is. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from shared.accounts import AccountView
from shared.events import PostTallied
from shared.posts import PostView, decode_post


class _PostRouting(msgspec.Struct):
    """The fields of a post the page rules read (the rest stays encoded)."""

    id: str
    account_id: str
    category: str | None = None


_POST_ROUTING = msgspec.json.Decoder(_PostRouting)
_ACCOUNT = msgspec.json.Decoder(AccountView)
_ENCODER = msgspec.json.Encoder()


class Encoded(dict[str, Any]):
    """A body's JSON (`encoded`, served as is) and, as a dict, its decoded fields (a
    page reads a few of every entry's: a dict's own lookups are the cheapest)."""

    __slots__ = ("encoded", "raw")

    def __init__(self, encoded: bytes, fields: msgspec.Struct) -> None:
        super().__init__(msgspec.structs.asdict(fields))
        self.encoded = encoded
        self.raw = msgspec.Raw(encoded)  # made once: a cached body is served many times


def raw_json(body: Mapping[str, Any]) -> msgspec.Raw:
    """A body's JSON for embedding in a response: an Encoded's own bytes, as they are."""
    return body.raw if isinstance(body, Encoded) else msgspec.Raw(_ENCODER.encode(body))


class ServedPost(Encoded):
    """A post: its shared.posts.PostView JSON with current tallies; reads as id,
    account_id and category."""

    def view(self) -> PostView:
        return decode_post(self.encoded)


def served_post(body: bytes | None, tally: bytes | None) -> ServedPost | None:
    """The kept body with its tallies merged in; None for no body or one that is not a post."""
    if body is None:
        return None
    try:
        encoded = with_tallies(body, tally) if tally else body
        return ServedPost(encoded, _POST_ROUTING.decode(encoded))
    except (msgspec.DecodeError, orjson.JSONDecodeError):
        return None


def served_account(summary: bytes | None) -> Encoded | None:
    """The kept account summary as an AccountView; None for none or one that is not one."""
    if summary is None:
        return None
    try:
        account = _ACCOUNT.decode(summary)
    except msgspec.DecodeError:
        return None
    return Encoded(_ENCODER.encode(account), account)


def tally_json(event: PostTallied) -> bytes:
    """What is kept of a post.tallied event (the tallies; the version is kept beside)."""
    return orjson.dumps(
        {
            "vote_counts": event.vote_counts,
            "vote_total": event.vote_total,
            "group_buy_participants": event.group_buy_participants,
            "group_buy_state": event.group_buy_state,
        }
    )


def with_tallies(body: bytes, tally: bytes) -> bytes:
    """The post's JSON with the tallies of `tally` (tally_json) in its vote and group buy."""
    post, counts = orjson.loads(body), orjson.loads(tally)
    vote, group_buy = post.get("vote"), post.get("group_buy")
    if vote is not None and counts["vote_counts"] is not None:
        vote["counts"], vote["total"] = counts["vote_counts"], counts["vote_total"]
    if group_buy is not None and counts["group_buy_participants"] is not None:
        group_buy["participants"] = counts["group_buy_participants"]
    if group_buy is not None and counts["group_buy_state"] is not None:
        group_buy["state"] = counts["group_buy_state"]
    return orjson.dumps(post)
