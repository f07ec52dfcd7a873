"""The dead-letter record: an event a consumer group gave up on, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

MAX_ERROR_CHARS = 2000


class Record(Protocol):
    """What the loop needs of a consumed record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """An event a consumer group gave up on. On the dead-letter topic the record's key is
    the group and its value the event's own bytes; where it came from rides in headers
    (a missing `key` header means the event had no key)."""

    group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    @classmethod
    def of(cls, group: str, record: Record, error: str) -> DeadLetter:
        """The letter for `record`, given up on by `group` with `error` (truncated)."""
        return cls(
            group,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            error[:MAX_ERROR_CHARS],
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers saying where the letter came from and why."""
        headers = [
            ("group", self.group.encode()),
            ("topic", self.topic.encode()),
            ("partition", str(self.partition).encode()),
            ("offset", str(self.offset).encode()),
            ("error", self.error.encode()),
        ]
        if self.key is not None:
            headers.append(("key", self.key))
        return headers

    @classmethod
    def from_record(cls, record: Any) -> DeadLetter:
        """Reads back a record of the dead-letter topic."""
        headers = dict(record.headers)
        return cls(
            headers["group"].decode(),
            headers["topic"].decode(),
            int(headers["partition"]),
            int(headers["offset"]),
            headers.get("key"),
            record.value,
            headers["error"].decode(),
        )
