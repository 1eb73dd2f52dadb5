"""Counters the switch keeps for metrics: plain ints and dicts, bumped inline on the hot path.

No locks (one trio thread), no per-message allocation beyond a dict key the first time a
tenant or status is seen; `snapshot()` copies for the metrics exporter.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from smsswitch.histogram import Histogram
from smsswitch.smpp.constants import CommandStatus


@attrs.define
class SwitchStats:
    """What happened since start; gauges (queue depths) are filled in by the switch."""

    submits: Counter = attrs.field(factory=Counter)  # (tenant, status int) -> n
    carrier_results: Counter = attrs.field(factory=Counter)  # (connector, outcome) -> n
    final_states: Counter = attrs.field(factory=Counter)  # state name -> n
    receipts_in: Counter = attrs.field(factory=Counter)  # matched | parked | late | unmatched | intermediate
    #: delivered | dropped | dead_letter | opt_out | opt_in; part_with_first: a long MO's later
    #: part routed like its first; part_sent_back: answered RX_T_APPN to wait for it (core/mo_parts)
    mo_in: Counter = attrs.field(factory=Counter)
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
    accept_latency: Histogram = attrs.field(factory=Histogram)  # submit → durable
    carrier_latency: Histogram = attrs.field(factory=Histogram)  # submit_sm → resp
    end_to_end: Histogram = attrs.field(factory=Histogram)  # accepted → final receipt

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
            "accept_latency": self.accept_latency.snapshot(),
            "carrier_latency": self.carrier_latency.snapshot(),
            "end_to_end": self.end_to_end.snapshot(),
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
