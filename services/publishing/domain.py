"""Publishing rules: its errors, who may publish (the author, the Shanghai-day quota, no
near-copies), and how account changes retract posts. No I/O. A new post's shape and
checks are in new_post.py, votes and group buys in votes_and_buys.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.publishing import similarity
from shared.errors import DomainError
from shared.events import AccountChanged
from shared.ids import id_time_ms
from shared.timeutil import epoch_ms, parse_rfc3339, rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")
# An account id minted this recently may still be on its way over Kafka; an unknown id
# older than this is taken to be no account at all (insights decides the same way).
IN_FLIGHT_MS = 60_000


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
