"""Bind authentication: who may bind, from where, as what, and how often they may fail.

Checks run cheapest first so a refused peer costs little: a source IP that failed too many
binds in the last minute is refused before anything else (and without a password hash);
the scrypt verification (~15 ms) runs in a worker thread so one bind never stalls the
event loop; the max_binds check runs last, with no await between it and the caller
registering the bind, so two concurrent binds cannot both take the last slot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs
import trio

from smsswitch.passwords import verify_password
from smsswitch.server.tenants import TenantDirectory, TenantEntry
from smsswitch.smpp.constants import CommandStatus

__all__ = ["BindDecision", "FailedBindTracker", "authenticate"]

S = CommandStatus
_WINDOW = 60.0


@attrs.frozen
class BindDecision:
    """ESME_ROK with the tenant, or the refusing status and a reason for logs and metrics."""

    status: int
    reason: str
    tenant: TenantEntry | None = None

    @property
    def ok(self) -> bool:
        return self.status == S.ESME_ROK


class FailedBindTracker:
    """Failed binds per source IP over the last minute; at the limit that IP is refused.

    Memory is bounded: each IP keeps at most `limit` timestamps, and IPs whose failures
    have all aged out are dropped whenever the table grows past `max_hosts`.
    """

    def __init__(self, limit_per_minute: int, max_hosts: int = 10_000) -> None:
        self.limit = limit_per_minute
        self.max_hosts = max_hosts
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, host: str, now: float) -> bool:
        if self.limit <= 0:
            return False
        times = self._failures.get(host)
        if times is None:
            return False
        while times and times[0] <= now - _WINDOW:
            times.popleft()
        if not times:
            del self._failures[host]
            return False
        return len(times) >= self.limit

    def record_failure(self, host: str, now: float) -> None:
        if self.limit <= 0:
            return
        times = self._failures.get(host)
        if times is None:
            if len(self._failures) >= self.max_hosts:
                self._forget_old(now)
            times = self._failures[host] = deque(maxlen=self.limit)
        times.append(now)

    def _forget_old(self, now: float) -> None:
        stale = [h for h, t in self._failures.items() if not t or t[-1] <= now - _WINDOW]
        for host in stale:
            del self._failures[host]
        if len(self._failures) >= self.max_hosts:  # a flood of fresh IPs: oldest first out
            oldest = sorted(self._failures, key=lambda h: self._failures[h][-1])
            for host in oldest[: len(oldest) // 2]:
                del self._failures[host]


async def authenticate(
    *,
    system_id: str,
    password: str,
    bind_type: str,
    peer_host: str,
    directory: TenantDirectory,
    failures: FailedBindTracker,
    binds_of: Callable[[str], int],
    clock: Callable[[], float] = trio.current_time,
    hash_limiter: trio.CapacityLimiter | None = None,
) -> BindDecision:
    """Decide one bind. `binds_of(system_id)` counts the tenant's live binds (checked last,
    after the only await, so the caller can register the bind before anything else runs).
    `hash_limiter` caps concurrent scrypt checks (16 MiB each) during a bind storm."""
    if failures.blocked(peer_host, clock()):
        return BindDecision(S.ESME_RBINDFAIL, "too_many_failed_binds")
    entry = directory.get(system_id)
    if entry is None:
        return BindDecision(S.ESME_RINVSYSID, "unknown_system_id")
    if not entry.ip_allowed(peer_host):
        return BindDecision(S.ESME_RBINDFAIL, "ip_not_allowed", entry)
    stored = entry.config.password_hash
    if not await trio.to_thread.run_sync(
        verify_password, password, stored, limiter=hash_limiter
    ):
        return BindDecision(S.ESME_RINVPASWD, "bad_password", entry)
    if bind_type not in entry.config.bind_types:
        return BindDecision(S.ESME_RBINDFAIL, "bind_type_not_allowed", entry)
    if binds_of(system_id) >= entry.config.max_binds:
        return BindDecision(S.ESME_RBINDFAIL, "max_binds", entry)
    return BindDecision(S.ESME_ROK, "ok", entry)
