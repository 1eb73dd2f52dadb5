"""One rate limiter for both sides of the switch (sans-IO: the caller passes the time in).

The tenant server uses `try_acquire` to answer ESME_RTHROTTLED above a bind's or a tenant's
submits/second; carrier connectors use `reserve` to pace submits smoothly to what the carrier
sells. Both are the Generic Cell Rate Algorithm: a single "theoretical arrival time" instead of
a bucket refilled by a timer, so it is O(1), allocation-free and exact at any rate.

`burst` is how many events may pass back to back after a quiet period; 1 means perfectly even
spacing (1/rate apart), which is what carriers that count per second want from a connector.
"""

from __future__ import annotations


class RateLimiter:
    """GCRA limiter: `rate` events per second, at most `burst` back to back.

    A rate of 0 or None means unlimited: every call succeeds at once.
    """

    __slots__ = ("_interval", "_tolerance", "_tat", "rate", "burst")

    def __init__(self, rate: float | None, burst: float = 1.0) -> None:
        self.rate = rate or 0.0
        self.burst = max(1.0, burst)
        self._interval = 1.0 / self.rate if self.rate > 0 else 0.0
        self._tolerance = (self.burst - 1.0) * self._interval
        self._tat = float("-inf")

    @property
    def unlimited(self) -> bool:
        return self._interval == 0.0

    def try_acquire(self, now: float, n: int = 1) -> bool:
        """Take `n` events now if the rate allows it; otherwise take nothing and say no."""
        if self._interval == 0.0:
            return True
        tat = self._tat if self._tat > now else now
        if tat + (n - 1) * self._interval - now > self._tolerance:
            return False
        self._tat = tat + n * self._interval
        return True

    def reserve(self, now: float, n: int = 1) -> float:
        """Take `n` events unconditionally and return how long to wait before sending them.

        0.0 means send now. The caller sleeps the returned delay (or sends at now + delay):
        successive reservations are spaced 1/rate apart, so the connector never bursts above
        the rate however many sessions share this limiter.
        """
        if self._interval == 0.0:
            return 0.0
        tat = self._tat if self._tat > now else now
        wait = tat + (n - 1) * self._interval - now - self._tolerance
        self._tat = tat + n * self._interval
        return wait if wait > 0.0 else 0.0

    def slow_down(self, now: float, seconds: float) -> None:
        """Allow nothing before `now + seconds` (a carrier said ESME_RTHROTTLED). Pauses do
        not add up: a carrier refusing a storm of batches, each with its own pause, used to
        push the next send tens of seconds past the last pause."""
        until = now + seconds
        if until > self._tat:
            self._tat = until

    def set_rate(self, rate: float | None, burst: float | None = None) -> None:
        """Change the rate in place (config reload) keeping the current schedule."""
        self.rate = rate or 0.0
        if burst is not None:
            self.burst = max(1.0, burst)
        self._interval = 1.0 / self.rate if self.rate > 0 else 0.0
        self._tolerance = (self.burst - 1.0) * self._interval
