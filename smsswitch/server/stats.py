"""Counters the server keeps for metrics and tests: plain ints in dicts, no locks needed
(everything runs on one trio thread), snapshot on demand."""

from __future__ import annotations

from collections import Counter
from typing import Any

from smsswitch.smpp.constants import CommandStatus

__all__ = ["ServerStats", "status_name"]


def status_name(status: int) -> str:
    """ESME_R… name of a status (hex for values SMPP does not name), for metric labels."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class ServerStats:
    """Monotonic counters plus gauges the registry fills in at snapshot time."""

    def __init__(self) -> None:
        self.connections_accepted = 0
        self.refusals: Counter[str] = Counter()  # connection and bind refusals, by reason
        self.pdu_refusals: Counter[str] = Counter()  # PDUs the session refused, by status
        self.submits: Counter[str] = Counter()  # submit answers by status name
        self.deliveries: Counter[str] = Counter()  # sent, answered_ok, answered_error, timed_out
        self.protocol_errors = 0
        # Largest number of tenant requests any one bind had at the core at once.
        self.max_outstanding = 0

    def count_submit(self, status: int, n: int = 1) -> None:
        self.submits[status_name(status)] += n

    def snapshot(self, **gauges: Any) -> dict[str, Any]:
        return {
            "connections_accepted": self.connections_accepted,
            "refusals": dict(self.refusals),
            "pdu_refusals": dict(self.pdu_refusals),
            "submits": dict(self.submits),
            "deliveries": dict(self.deliveries),
            "protocol_errors": self.protocol_errors,
            "max_outstanding": self.max_outstanding,
            **gauges,
        }
