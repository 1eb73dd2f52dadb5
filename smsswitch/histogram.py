"""A fixed-bucket latency histogram: O(log buckets) per observation, no allocation, no lock.

Components own one per latency they measure and bump it inline; the metrics collector turns
`snapshot()` into a Prometheus histogram at scrape time (so dashboards can aggregate quantiles
over time and across nodes, which pre-computed percentiles cannot).
"""

from __future__ import annotations

import bisect
from typing import Any

#: Seconds; from sub-millisecond (journal commits, loopback responses) to a carrier's 10 s.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)


class Histogram:
    """Counts observations per bucket; `snapshot()` gives cumulative Prometheus buckets."""

    __slots__ = ("bounds", "_hits", "sum", "count")

    def __init__(self, bounds: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.bounds = bounds
        self._hits = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self._hits[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding the q-quantile (an over-estimate, never under)."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for bound, hits in zip(self.bounds, self._hits):
            seen += hits
            if seen >= rank:
                return bound
        return float("inf")

    def snapshot(self) -> dict[str, Any]:
        cumulative, buckets = 0, []
        for bound, hits in zip(self.bounds, self._hits):
            cumulative += hits
            buckets.append((bound, cumulative))
        return {
            "buckets": buckets,
            "sum": self.sum,
            "count": self.count,
            "p50": self.quantile(0.5),
            "p99": self.quantile(0.99),
        }
