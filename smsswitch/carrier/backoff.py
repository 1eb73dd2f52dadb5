"""Reconnect delays: exponential with full jitter and a ceiling.

Jitter matters because a carrier restart drops every bind of every customer at once; without
it all of them come back in the same millisecond and get refused together again.
"""

from __future__ import annotations

import random


class Backoff:
    """Delay before the next reconnect attempt; `reset()` after a bind succeeds.

    Attempt n waits a uniformly random time in [initial/2, min(maximum, initial * 2**n)]:
    never zero (no hot reconnect loop), never above the ceiling.
    """

    __slots__ = ("initial", "maximum", "_attempt", "_rng")

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = max(0.001, initial)
        self.maximum = max(self.initial, maximum)
        self._attempt = 0
        self._rng = rng or random.Random()

    @property
    def attempt(self) -> int:
        """Consecutive failures since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        floor = min(self.initial / 2, ceiling)
        return self._rng.uniform(floor, ceiling)

    def reset(self) -> None:
        self._attempt = 0
