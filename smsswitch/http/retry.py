"""What one webhook attempt's answer means, and when to try again (pure: time passed in).

2xx: delivered. Timeouts, connection errors, 408, 429 and 5xx: try again later, with
exponential backoff and jitter, never sooner than the receiver's Retry-After. Any other
answer (other 4xx, 3xx — redirects are not followed, the URL is wrong) is permanent: the
event goes to the dead letters at once instead of hammering a receiver that said no.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Literal

import attrs

Verdict = Literal["ok", "retry", "permanent", "skip"]
RETRYABLE_STATUSES = frozenset({408, 429})


@attrs.frozen
class Outcome:
    """One attempt: the verdict, what happened (for the dead letter's reason), Retry-After."""

    verdict: Verdict
    detail: str
    retry_after: float | None = None


def outcome_of_status(status: int, retry_after_header: str | None, now: float) -> Outcome:
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return Outcome("ok", detail)
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Outcome("retry", detail, parse_retry_after(retry_after_header, now))
    return Outcome("permanent", detail)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


@attrs.frozen
class RetryPolicy:
    """Delay before attempt n+1 after n failures: base·2^(n-1), half of it jittered, capped;
    at least the receiver's Retry-After (itself capped so a receiver cannot park us forever)."""

    base: float = 5.0
    cap: float = 3600.0
    max_retry_after: float = 3600.0

    def delay(self, failures: int, retry_after: float | None, rng: random.Random) -> float:
        full = min(self.cap, self.base * 2 ** min(max(failures - 1, 0), 30))
        delay = full / 2 + rng.uniform(0, full / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay
