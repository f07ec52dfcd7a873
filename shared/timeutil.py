"""Times on the wire: RFC 3339 UTC with milliseconds (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """`2026-11-25T04:05:06.789Z` for any aware datetime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse_rfc3339(text: str) -> datetime:
    """Parses an RFC 3339 time with an explicit offset; raises ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time needs an offset, e.g. Z")
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    """The UTC datetime of milliseconds since the Unix epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC)
