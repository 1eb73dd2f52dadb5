"""What an MT rule does once it matches: each action turns (destination, draw) into a decision.

Fixed and reject decisions are built once at compile time and returned as is, so the common
lookup allocates nothing. A weighted split is deterministic in the caller's random draw.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

import attrs

from smsswitch.numbers import NumberInfo
from smsswitch.routing.decisions import MtDecision

__all__ = ["FixedAction", "LeastCostAction", "PriceList", "RejectAction", "SplitAction"]


@attrs.frozen
class PriceList:
    """One connector's price per destination prefix; the longest matching prefix wins."""

    by_prefix: Mapping[str, float]  # "+263" → 0.02
    lengths: tuple[int, ...]  # distinct prefix lengths, longest first

    @classmethod
    def from_mapping(cls, prices: Mapping[str, float]) -> PriceList:
        return cls(dict(prices), tuple(sorted({len(p) for p in prices}, reverse=True)))

    def price(self, e164: str | None) -> float | None:
        if not e164:
            return None
        get = self.by_prefix.get
        for length in self.lengths:
            if length <= len(e164):
                found = get(e164[:length])
                if found is not None:
                    return found
        return None


@attrs.frozen
class FixedAction:
    """One connector, or several in failover order."""

    decision: MtDecision

    def decide(self, dest: NumberInfo, draw: float) -> MtDecision:
        return self.decision


@attrs.frozen
class RejectAction:
    """Refuse with a configured SMPP status and reason."""

    decision: MtDecision

    def decide(self, dest: NumberInfo, draw: float) -> MtDecision:
        return self.decision


@attrs.frozen
class SplitAction:
    """Weighted pick with `draw` in [0, 1); the other connectors follow as failover, heaviest
    first. One precomputed decision per possible pick."""

    weights: tuple[tuple[str, float], ...]
    bounds: tuple[float, ...]  # cumulative share upper bounds, last is 1.0
    choices: tuple[MtDecision, ...]

    @classmethod
    def build(cls, rule: str, weights: Mapping[str, float]) -> SplitAction:
        items = tuple(weights.items())
        total = sum(w for _, w in items)
        bounds, running = [], 0.0
        for _, weight in items:
            running += weight / total
            bounds.append(running)
        bounds[-1] = 1.0
        by_weight = sorted(items, key=lambda item: -item[1])  # stable: file order on ties
        choices = []
        for name, _ in items:
            order = (name,) + tuple(other for other, _ in by_weight if other != name)
            choices.append(MtDecision(rule=rule, action="split", connectors=order))
        return cls(items, tuple(bounds), tuple(choices))

    def decide(self, dest: NumberInfo, draw: float) -> MtDecision:
        index = bisect_right(self.bounds, draw)
        return self.choices[min(index, len(self.choices) - 1)]


@attrs.frozen
class LeastCostAction:
    """Cheapest connector first for this destination; connectors without a price for it go
    last, in the order written."""

    rule: str
    connectors: tuple[str, ...]
    prices: tuple[PriceList | None, ...]

    def priced(self, dest: NumberInfo) -> list[tuple[str, float | None]]:
        return [(name, prices.price(dest.dialled) if prices else None) for name, prices in zip(self.connectors, self.prices)]

    def decide(self, dest: NumberInfo, draw: float) -> MtDecision:
        priced = self.priced(dest)
        ordered = sorted(range(len(priced)), key=lambda i: (priced[i][1] is None, priced[i][1] or 0.0, i))
        return MtDecision(rule=self.rule, action="least_cost", connectors=tuple(self.connectors[i] for i in ordered))
