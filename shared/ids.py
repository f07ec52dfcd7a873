"""64-bit, time-ordered ids (Snowflake layout), sent to callers as decimal strings.

41 bits of milliseconds since WEITAO_EPOCH, 10 bits of worker, 12 bits of sequence.
Time order matters: feeds break score ties by id, and newer ids sort after older ones.
"""

from __future__ import annotations

import os
import threading
import time

WEITAO_EPOCH_MS = 1_700_000_000_000  # 2023-11-14: keeps ids well inside 63 bits for decades
_WORKER_BITS = 10
_SEQUENCE_BITS = 12
_MAX_SEQUENCE = (1 << _SEQUENCE_BITS) - 1


class IdGenerator:
    """Thread-safe Snowflake generator; `worker` must differ between live processes."""

    def __init__(self, worker: int | None = None) -> None:
        if worker is None:
            worker = os.getpid()
        self._worker = worker & ((1 << _WORKER_BITS) - 1)
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = int(time.time() * 1000)
            # A clock that steps back must not repeat ids: keep counting on the last millisecond.
            now = max(now, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _MAX_SEQUENCE
                if self._sequence == 0:
                    now += 1  # sequence exhausted in this millisecond: borrow the next one
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - WEITAO_EPOCH_MS) << (_WORKER_BITS + _SEQUENCE_BITS))
                | (self._worker << _SEQUENCE_BITS)
                | self._sequence
            )


def id_time_ms(snowflake: int) -> int:
    """The epoch milliseconds at which an id was made."""
    return (snowflake >> (_WORKER_BITS + _SEQUENCE_BITS)) + WEITAO_EPOCH_MS


def parse_id(text: str) -> int | None:
    """A positive 64-bit id from its decimal string, or None when it is not one."""
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value < (1 << 63) else None
