"""The envelope every event travels in, and the base of every event contract.

Envelope: `{event_id, type, version, occurred_at, key, payload}`, orjson-encoded.
A contract is a frozen dataclass naming its topic, type and version. Fields are
add-only: decoders ignore fields they do not know, so an older consumer reads a
newer producer's events; a breaking change is a new `version` of the type.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import orjson

from shared import topics
from shared.timeutil import rfc3339, utcnow


class BadEvent(ValueError):
    """A message that is not a valid envelope or contract (logged and skipped by consumers)."""


@dataclass(frozen=True)
class Envelope:
    """What travels on Kafka: the event's identity and type around its payload."""

    event_id: str
    type: str
    version: int
    occurred_at: str
    key: str
    payload: dict[str, Any]

    def encode(self) -> bytes:
        """The envelope as orjson bytes (orjson writes dataclasses itself, without the
        deep copy `dataclasses.asdict` makes)."""
        return orjson.dumps(self)

    @classmethod
    def decode(cls, raw: bytes) -> Envelope:
        """An envelope from bytes; BadEvent when they are not one."""
        try:
            data = orjson.loads(raw)
            return cls(
                event_id=str(data["event_id"]),
                type=str(data["type"]),
                version=int(data["version"]),
                occurred_at=str(data["occurred_at"]),
                key=str(data["key"]),
                payload=dict(data["payload"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BadEvent(f"not an envelope: {exc}") from None


C = TypeVar("C", bound="Contract")


@dataclass(frozen=True)
class Contract:
    """Base of every event payload."""

    TOPIC: ClassVar[topics.Topic]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def key(self) -> str:
        """The message key: the id of the entity whose events must stay in order."""
        raise NotImplementedError

    def envelope(self, event_id: str | None = None, occurred_at: str | None = None) -> Envelope:
        """This event in an envelope (a new event id and the current time unless given)."""
        return Envelope(
            event_id=event_id or uuid.uuid4().hex,
            type=self.TYPE,
            version=self.VERSION,
            occurred_at=occurred_at or rfc3339(utcnow()),
            key=self.key(),
            # Shallow: orjson writes nested dataclasses itself, so the deep copy
            # dataclasses.asdict makes of every value is work without a use.
            payload={name: getattr(self, name) for name in _field_names(type(self))},
        )

    @classmethod
    def from_payload(cls: type[C], payload: dict[str, Any]) -> C:
        """The contract from a payload, ignoring unknown fields; BadEvent if one is missing."""
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in payload.items() if k in known})
        except TypeError as exc:
            raise BadEvent(f"{cls.TYPE}: {exc}") from None


# Each contract's field names, in declaration order (as its payload lists them).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(contract: type[Any]) -> tuple[str, ...]:
    """A contract's field names, read from the dataclass once."""
    names = _FIELD_NAMES.get(contract)
    if names is None:
        names = _FIELD_NAMES[contract] = tuple(f.name for f in dataclasses.fields(contract))
    return names
