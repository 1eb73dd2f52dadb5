"""What a connector tells the metrics layer: live gauges plus cumulative counters.

Counters are plain ints bumped on the hot path (no locks: one trio thread); `snapshot()`
copies them into a frozen value so the metrics layer can read without racing the sessions.
"""

from __future__ import annotations

import attrs

from smsswitch.histogram import Histogram

#: Upper bounds (seconds) of the submit_sm -> submit_sm_resp latency histogram buckets.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


@attrs.frozen
class ConnectorHealth:
    """One connector at one instant; counters are totals since the connector was created."""

    name: str
    running: bool
    sessions_configured: int
    sessions_bound: int
    window_capacity: int
    window_in_use: int
    queue_depth: int
    submits_sent: int
    accepted: int
    rejected: int
    gave_up: int
    expired: int
    retries: int
    throttled: int
    timeouts: int
    requeued_on_loss: int
    handed_back: int
    receipts: int
    mo: int
    deliver_errors: int
    binds: int
    bind_failures: int
    reconnects: int
    unexpected_responses: int
    refused: int
    responses_by_status: dict[int, int]
    latency_sum: float
    latency_count: int
    # Cumulative counts per LATENCY_BUCKETS bound (Prometheus style), then +Inf = latency_count.
    latency_buckets: tuple[tuple[float, int], ...]


class ConnectorCounters:
    """Mutable counters owned by one connector."""

    def __init__(self) -> None:
        self.submits_sent = 0
        self.accepted = 0
        self.rejected = 0
        self.gave_up = 0
        self.expired = 0
        self.retries = 0
        self.throttled = 0
        self.timeouts = 0
        self.requeued_on_loss = 0
        self.handed_back = 0
        self.receipts = 0
        self.mo = 0
        self.deliver_errors = 0
        self.binds = 0
        self.bind_failures = 0
        self.reconnects = 0
        self.unexpected_responses = 0
        self.refused = 0
        self.responses_by_status: dict[int, int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)

    def response(self, status: int, latency: float) -> None:
        by_status = self.responses_by_status
        by_status[status] = by_status.get(status, 0) + 1
        self.latency.observe(latency)
