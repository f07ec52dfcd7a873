"""What a consumer loop reads and writes of Kafka, as fakes: a consumed record and the
dead-letter producer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Consumed:
    """A consumed record as the loop reads it (what shared.kafka.letters.Record needs)."""

    value: bytes
    offset: int
    topic: str = "weitao.scratch.v1"
    partition: int = 0
    key: bytes | None = b"k"


class DeadLetters:
    """What the loop uses of the dead-letter producer: it keeps the values sent."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    async def send_and_wait(self, topic: str, value: bytes, **_: object) -> None:
        self.values.append(value)
