"""Counters the switch keeps for metrics: plain ints and dicts, bumped inline on the hot path.

No locks (one trio thread), no per-message allocation beyond a dict key the first time a
tenant or status is seen; `snapshot()` copies for the metrics exporter.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from smsswitch.smpp.constants import CommandStatus


@attrs.define
class LatencyWindow:
    """A bounded reservoir of recent latencies (seconds) for p50/p99 without growth."""

    size: int = 1024
    _values: list[float] = attrs.field(factory=list)
    _next: int = 0
    count: int = 0

    def add(self, value: float) -> None:
        self.count += 1
        if len(self._values) < self.size:
            self._values.append(value)
        else:
            self._values[self._next] = value
            self._next = (self._next + 1) % self.size

    def quantiles(self) -> dict[str, float]:
        if not self._values:
            return {"p50": 0.0, "p99": 0.0, "count": self.count}
        ordered = sorted(self._values)
        last = len(ordered) - 1
        return {"p50": ordered[last // 2], "p99": ordered[int(last * 0.99)], "count": self.count}


@attrs.define
class SwitchStats:
    """What happened since start; gauges (queue depths) are filled in by the switch."""

    submits: Counter = attrs.field(factory=Counter)  # (tenant, status int) -> n
    carrier_results: Counter = attrs.field(factory=Counter)  # (connector, outcome) -> n
    final_states: Counter = attrs.field(factory=Counter)  # state name -> n
    receipts_in: Counter = attrs.field(factory=Counter)  # matched | parked | late | unmatched | intermediate
    mo_in: Counter = attrs.field(factory=Counter)  # delivered | dropped | dead_letter | opt_out | opt_in
    outbox: Counter = attrs.field(factory=Counter)  # added | acked | nacked | timeouts | dead
    policy_rejections: Counter = attrs.field(factory=Counter)  # (tenant, check) -> n
    policy_rewrites: Counter = attrs.field(factory=Counter)  # tenant -> n (sender rewritten)
    templates_matched: Counter = attrs.field(factory=Counter)  # (tenant, template) -> n
    autoreplies: Counter = attrs.field(factory=Counter)  # sent | suppressed | unroutable
    failovers: int = 0
    replayed_resent: int = 0
    replayed_queued: int = 0
    journal_errors: int = 0
    refused_backlog: int = 0
    accept_latency: LatencyWindow = attrs.field(factory=LatencyWindow)  # submit → durable
    carrier_latency: LatencyWindow = attrs.field(factory=LatencyWindow)  # submit_sm → resp
    end_to_end: LatencyWindow = attrs.field(factory=LatencyWindow)  # accepted → final receipt

    def snapshot(self) -> dict[str, Any]:
        return {
            "submits": {f"{t}/{_status_name(s)}": n for (t, s), n in self.submits.items()},
            "carrier_results": {f"{c}/{o}": n for (c, o), n in self.carrier_results.items()},
            "final_states": dict(self.final_states),
            "receipts_in": dict(self.receipts_in),
            "mo_in": dict(self.mo_in),
            "outbox": dict(self.outbox),
            "policy": {
                "rejections": _nested(self.policy_rejections),
                "rewrites": dict(self.policy_rewrites),
                "templates": _nested(self.templates_matched),
            },
            "autoreplies": dict(self.autoreplies),
            "failovers": self.failovers,
            "replayed_resent": self.replayed_resent,
            "replayed_queued": self.replayed_queued,
            "journal_errors": self.journal_errors,
            "refused_backlog": self.refused_backlog,
            "accept_latency": self.accept_latency.quantiles(),
            "carrier_latency": self.carrier_latency.quantiles(),
            "end_to_end": self.end_to_end.quantiles(),
        }


def _nested(counter: Counter) -> dict[str, dict[str, int]]:
    """{(a, b): n} as {a: {b: n}} (names may hold any character, so no joined keys)."""
    out: dict[str, dict[str, int]] = {}
    for (outer, inner), n in counter.items():
        out.setdefault(outer, {})[inner] = n
    return out


def _status_name(status: int) -> str:
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"
