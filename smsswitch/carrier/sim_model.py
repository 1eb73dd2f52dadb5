"""The carrier simulator's bookkeeping, free of I/O: ids, receipt states, the receipt timer,
and the counts it reports.

Kept apart from the socket code so the behaviours can be tested without a network and so the
server module stays about connections.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from typing import Any, Iterable, Literal

from smsswitch.smpp.receipt import STAT_BY_STATE, stat_to_state

#: The Appendix B stat words a simulated carrier may end a message with.
RECEIPT_STATES = frozenset(STAT_BY_STATE.values())


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """'DELIVRD=0.9,UNDELIV=0.1' -> (('DELIVRD', 0.9), ('UNDELIV', 0.1)); weights need not sum
    to 1. Raises ValueError naming the bad part."""
    mix = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        state, sep, weight = part.partition("=")
        known = stat_to_state(state)
        if known is None:
            raise ValueError(f"unknown receipt state {state!r} (one of {', '.join(sorted(RECEIPT_STATES))})")
        state = STAT_BY_STATE[known]
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"bad weight in {part!r}") from None
        if value < 0:
            raise ValueError(f"negative weight in {part!r}")
        mix.append((state, value))
    if not mix or sum(w for _, w in mix) <= 0:
        raise ValueError(f"receipt mix {text!r} has no positive weight")
    return tuple(mix)


class StateMix:
    """Picks final receipt states at random with the configured weights."""

    def __init__(self, final_states: Iterable[tuple[str, float]], rng: random.Random) -> None:
        pairs = [(s, w) for s, w in final_states if w > 0]
        if not pairs:
            pairs = [("DELIVRD", 1.0)]
        self._states = [s for s, _ in pairs]
        self._weights = [w for _, w in pairs]
        self._single = self._states[0] if len(pairs) == 1 else None
        self._rng = rng

    def pick(self) -> str:
        if self._single is not None:
            return self._single
        return self._rng.choices(self._states, self._weights)[0]


class MessageIds:
    """The simulator's own message ids: a counter shown in decimal or lower-case hex."""

    def __init__(self, id_format: Literal["decimal", "hex"], start: int = 0x10000000) -> None:
        self.id_format = id_format
        self._next = start

    def next(self) -> tuple[int, str]:
        number = self._next
        self._next += 1
        return number, format_id(number, self.id_format)


def format_id(number: int, id_format: str) -> str:
    return format(number, "x") if id_format == "hex" else str(number)


class ReceiptSchedule:
    """Receipts waiting for their due time: one heap served by one task, bounded.

    Items are opaque to the schedule; `push` refuses (returns False) when full so the caller
    can count the loss instead of growing without end.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._heap: list[tuple[float, int, Any]] = []
        self._counter = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, item: Any) -> bool:
        if len(self._heap) >= self.maxsize:
            return False
        self._counter += 1
        heapq.heappush(self._heap, (due, self._counter, item))
        return True

    def push_front(self, items: Iterable[Any], due: float) -> int:
        """Re-schedule items that could not be delivered yet at `due`; returns how many fit."""
        pushed = 0
        for item in items:
            if self.push(due, item):
                pushed += 1
        return pushed

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int = 10_000) -> list[Any]:
        heap = self._heap
        out = []
        while heap and heap[0][0] <= now and len(out) < limit:
            out.append(heapq.heappop(heap)[2])
        return out


class DuplicateDetector:
    """Remembers the last `capacity` submit keys and says whether a key was seen before.

    Keys are hashed to ints so a long benchmark costs ~100 bytes per remembered submit.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def seen_before(self, key: tuple) -> bool:
        digest = hash(key)
        if digest in self._seen:
            return True
        self._seen.add(digest)
        self._order.append(digest)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return False


class SimStats:
    """Everything the simulator counted; `as_dict()` is the JSON it reports."""

    def __init__(self) -> None:
        self.connections = 0
        self.binds = 0
        self.binds_by_type: dict[str, int] = {}
        self.bind_refusals = 0
        self.submits_received = 0
        self.submits_accepted = 0
        self.submits_by_connection: dict[int, int] = {}
        self.submits_by_destination: dict[str, int] = {}
        self.duplicates = 0
        self.throttled = 0
        self.failed = 0
        self.drops = 0
        self.stalls = 0
        self.receipts_sent: dict[str, int] = {}
        self.receipts_overflow = 0
        self.mo_sent = 0
        self.deliver_resp_statuses: dict[int, int] = {}
        self.unbinds = 0
        # Most submits seen unanswered at once on one connection (window checks).
        self.max_unanswered = 0
        # With a response delay: submit answers sent, and how late past their due time in
        # all (timer granularity and this process's own load: part of the RTT a client sees).
        self.delayed_answers = 0
        self.delayed_answers_late_s = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "binds": self.binds,
            "binds_by_type": dict(self.binds_by_type),
            "bind_refusals": self.bind_refusals,
            "submits_received": self.submits_received,
            "submits_accepted": self.submits_accepted,
            "submits_by_connection": {str(k): v for k, v in self.submits_by_connection.items()},
            "submits_by_destination": dict(self.submits_by_destination),
            "duplicates": self.duplicates,
            "throttled": self.throttled,
            "failed": self.failed,
            "drops": self.drops,
            "stalls": self.stalls,
            "receipts_sent": dict(self.receipts_sent),
            "receipts_sent_total": sum(self.receipts_sent.values()),
            "receipts_overflow": self.receipts_overflow,
            "mo_sent": self.mo_sent,
            "deliver_resp_statuses": {f"0x{k:08X}": v for k, v in self.deliver_resp_statuses.items()},
            "unbinds": self.unbinds,
            "max_unanswered": self.max_unanswered,
            "delayed_answers": self.delayed_answers,
            "delayed_answers_late_ms_avg": (
                round(1000 * self.delayed_answers_late_s / self.delayed_answers, 3) if self.delayed_answers else None
            ),
        }
