"""Connector-wide pacing: the rate the carrier sold us, adapted down when it throttles.

One `Pacer` per connector is shared by all its links, so the account's rate holds however many
binds it has. A throttle (0x58/0x14) means the carrier's real limit is below what we send:
pausing alone would only make us burst a full window again after each pause and be refused
again, so the pacer also drops the rate to just under what the carrier actually accepted in
the last second (multiplicative decrease). Right after a bind the accepted count says little
(the first refusals can arrive before any success), so the estimate is never below half of
what we sent: a too-high guess costs one more throttle episode, a too-low one costs minutes.

Recovery works like TCP's after a loss. The first cut after clean traffic sets the resume rate
(what the carrier took before the trouble, less 10 %). A carrier that refuses everything for a
while (an outage, a maintenance window) drives the later cuts of the same streak down to
MIN_RATE, but says nothing about its limit, so those cuts leave the resume rate alone: at the
first clean batch after the pause the pacer jumps straight back to it instead of creeping up
from 1/s (+10 %/s took a minute to get back to speed). Refused again within a second of that jump,
it halves the resume rate, so a carrier whose limit really dropped is found in a few steps.
Above the resume rate it creeps up (+10 % per second without throttling) towards the
configured ceiling.
"""

from __future__ import annotations

import math

from smsswitch.ratelimit import RateLimiter

#: First pause after a throttle, doubled while every batch keeps being throttled. The cap is
#: how late the first probe may come after a carrier stops refusing: while it refuses, the cut
#: rate already keeps the probes down to about one a second, so a longer pause saves it nothing
#: (5 s left a backlog waiting 3.5 s after a 2.5 s throttle storm had ended).
THROTTLE_PAUSE = 0.1
THROTTLE_PAUSE_MAX = 2.0
#: Never adapt below this many submits per second.
MIN_RATE = 1.0
#: After a throttle, the new rate is this fraction of what the carrier accepted.
DECREASE = 0.9
#: Without throttling, the adapted rate grows by this factor per RECOVER_EVERY seconds.
INCREASE = 1.1
RECOVER_EVERY = 1.0
#: An unlimited connector returns to unlimited after this long without a throttle.
UNLIMITED_AFTER = 60.0
#: Throttles within this long of a rate cut are the same episode (one cut, not one per batch).
EPISODE = 0.5
#: Seconds' worth of sends the limiter lets a late writer catch up by: on a busy event loop
#: timer wake-ups run a few ms late, which at 10k/s cost a quarter of the rate (measured).
#: Any window of T seconds still holds at most rate * (T + CATCH_UP) submits.
CATCH_UP = 0.01


def _burst(rate: float) -> float:
    return max(1.0, rate * CATCH_UP)


class RateMeter:
    """Events per second over the last `span` seconds, in `buckets` slots: O(1) per event."""

    __slots__ = ("_width", "_counts", "_slot", "_first")

    def __init__(self, span: float = 1.0, buckets: int = 10) -> None:
        self._width = span / buckets
        self._counts = [0] * buckets
        self._slot = 0  # absolute slot number of the newest bucket
        self._first: float | None = None

    def _advance(self, now: float) -> None:
        slot = int(now / self._width)
        if slot == self._slot:
            return
        counts = self._counts
        size = len(counts)
        if slot - self._slot >= size:
            for i in range(size):
                counts[i] = 0
        else:
            for s in range(self._slot + 1, slot + 1):
                counts[s % size] = 0
        self._slot = slot

    def add(self, now: float, n: int = 1) -> None:
        if self._first is None:
            self._first = now
        self._advance(now)
        self._counts[self._slot % len(self._counts)] += n

    def rate(self, now: float) -> float:
        if self._first is None:
            return 0.0
        self._advance(now)
        span = self._width * len(self._counts)
        elapsed = min(span, max(self._width, now - self._first))
        return sum(self._counts) / elapsed


class Pacer:
    """Smooth, connector-wide send times; see the module docstring for the adaptation."""

    def __init__(self, max_tps: float) -> None:
        self.ceiling = max_tps if max_tps and max_tps > 0 else math.inf
        limited = not math.isinf(self.ceiling)
        self.limiter = RateLimiter(self.ceiling if limited else None, burst=_burst(self.ceiling) if limited else 1)
        self.accepted_meter = RateMeter()
        self.sent_meter = RateMeter()
        self.paused_until = -math.inf
        self.streak = 0
        self._last_cut = -math.inf
        self._next_recovery = math.inf
        #: Where recovery jumps back to (0: nowhere; creep up from the cut); see the docstring.
        self.resume_rate = 0.0
        self._jumped_at = -math.inf

    @property
    def rate(self) -> float:
        """The rate in force now (inf = unlimited)."""
        return self.limiter.rate if not self.limiter.unlimited else math.inf

    def reserve(self, now: float) -> float:
        """Seconds to wait before sending the next submit (0.0 = now)."""
        if now >= self._next_recovery:
            self._recover(now)
        return self.limiter.reserve(now)

    def accepted(self, now: float, count: int) -> None:
        """`count` submits were just accepted; a clean batch ends a throttle streak."""
        self.accepted_meter.add(now, count)

    def sent(self, now: float, count: int) -> None:
        self.sent_meter.add(now, count)

    def clean_batch(self, now: float) -> None:
        """A read with accepted submits and no throttle: the streak is over, and the carrier
        takes submits again, so recovery to the resume rate need not wait another second."""
        self.streak = 0
        if self.resume_rate and self.rate < self.resume_rate and now >= self.paused_until:
            self._recover(now)

    def throttled(self, now: float) -> bool:
        """The carrier refused with 0x58/0x14: pause everyone and, once per episode, cut the
        rate; True when the rate was cut (worth a log line)."""
        pause = min(THROTTLE_PAUSE_MAX, THROTTLE_PAUSE * (2 ** min(self.streak, 16)))
        fresh = self.streak == 0  # the first throttle after clean traffic
        self.streak += 1
        if now + pause > self.paused_until:
            self.paused_until = now + pause
        cut = now - self._last_cut >= EPISODE
        if cut:
            self._last_cut = now
            taken = max(self.accepted_meter.rate(now), self.sent_meter.rate(now) / 2)
            new_rate = max(MIN_RATE, min(self.rate, taken) * DECREASE)
            if now - self._jumped_at <= RECOVER_EVERY:  # the jump back was too far
                self.resume_rate = max(new_rate, self.resume_rate / 2)
            elif fresh:
                self.resume_rate = new_rate
            self.limiter.set_rate(new_rate, _burst(new_rate))
        self.limiter.slow_down(now, pause)
        self._next_recovery = now + pause + RECOVER_EVERY
        return cut

    def _recover(self, now: float) -> None:
        rate = self.rate
        if math.isinf(rate):
            self._next_recovery = math.inf
            return
        if rate < self.resume_rate:
            grown = self.resume_rate
            self._jumped_at = now
        else:
            grown = rate * INCREASE
        if grown >= self.ceiling or (math.isinf(self.ceiling) and now - self._last_cut >= UNLIMITED_AFTER):
            limited = not math.isinf(self.ceiling)
            self.limiter.set_rate(self.ceiling if limited else None, _burst(self.ceiling) if limited else 1)
            self._next_recovery = math.inf
        else:
            self.limiter.set_rate(grown, _burst(grown))
            self._next_recovery = now + RECOVER_EVERY
