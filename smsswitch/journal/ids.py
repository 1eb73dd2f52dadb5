"""Our message ids: unique, time-ordered, cheap, and short enough for SMPP message_id.

Layout (80 bits, rendered as 20 lowercase hex characters so that string order is creation
order): 48 bits of Unix milliseconds, 8 bits of node number, 24 bits of a per-millisecond
counter. No uuid4 and no syscall beyond one clock read per id. The generator never goes
backwards: if the clock steps back it keeps counting on the last millisecond, and it can be
seeded with the newest id already in the journal (`floor`) so a restart with a slower clock
still issues larger ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ID_LENGTH = 20
_NODE_BITS = 8
_COUNTER_BITS = 24
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_MS_SHIFT = _NODE_BITS + _COUNTER_BITS
_MAX_NODE = (1 << _NODE_BITS) - 1


class MessageIdGenerator:
    """Issues ids for messages, outbox entries and dead letters (one space for all)."""

    def __init__(
        self,
        node: int = 0,
        *,
        floor: str | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if not 0 <= node <= _MAX_NODE:
            raise ValueError(f"node must be 0..{_MAX_NODE}, got {node}")
        self._node_bits = node << _COUNTER_BITS
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = -1
        if floor:
            value = int(floor, 16)
            self._last_ms = value >> _MS_SHIFT
            self._counter = value & _COUNTER_MAX

    def next(self) -> str:
        """Return a new id, larger (as a string and as a number) than every earlier one."""
        now_ms = self._clock_ns() // 1_000_000
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = 0
            else:
                self._counter += 1
                if self._counter > _COUNTER_MAX:
                    self._last_ms += 1
                    self._counter = 0
            value = (self._last_ms << _MS_SHIFT) | self._node_bits | self._counter
        return f"{value:020x}"


def id_time(message_id: str) -> float:
    """Creation time (Unix seconds) encoded in one of our ids."""
    return (int(message_id, 16) >> _MS_SHIFT) / 1000.0


def is_our_id(text: str) -> bool:
    """True when `text` has the shape of an id this module issues (used to validate input)."""
    if len(text) != ID_LENGTH:
        return False
    try:
        int(text, 16)
    except ValueError:
        return False
    return text == text.lower()
