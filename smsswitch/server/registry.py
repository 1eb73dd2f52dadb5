"""Live binds by tenant, and the limits they share: one place to count, throttle and reload.

The tenant-wide rate limiter lives here (keyed by system_id) so every bind of a tenant
draws from the same budget, and it survives a reload with its schedule intact.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Protocol

from smsswitch.ratelimit import RateLimiter
from smsswitch.server.tenants import TenantDirectory, TenantEntry

__all__ = ["BindRegistry", "make_limiter"]


def make_limiter(rate: float) -> RateLimiter:
    """Submits/second with a tenth of a second's burst: pipelining clients send in bursts."""
    return RateLimiter(rate, burst=max(1.0, rate / 10))


class LiveBind(Protocol):
    """What the registry needs from a bound connection."""

    system_id: str
    bind_type: str

    def apply_tenant(self, entry: TenantEntry) -> None: ...


class BindRegistry:
    """Counts binds per tenant and holds the tenant-wide limiters; the directory in use."""

    def __init__(self, directory: TenantDirectory) -> None:
        self.directory = directory
        self._binds: dict[str, set[LiveBind]] = {}
        self._tenant_limiters: dict[str, RateLimiter] = {}
        self._ids = itertools.count(1)

    def next_bind_id(self) -> str:
        return f"b{next(self._ids)}"

    def count(self, system_id: str) -> int:
        return len(self._binds.get(system_id, ()))

    def add(self, bind: LiveBind) -> None:
        self._binds.setdefault(bind.system_id, set()).add(bind)

    def remove(self, bind: LiveBind) -> None:
        binds = self._binds.get(bind.system_id)
        if binds is not None:
            binds.discard(bind)
            if not binds:
                del self._binds[bind.system_id]

    def tenant_limiter(self, entry: TenantEntry) -> RateLimiter:
        limiter = self._tenant_limiters.get(entry.config.system_id)
        if limiter is None:
            limiter = self._tenant_limiters[entry.config.system_id] = make_limiter(entry.config.tenant_tps)
        return limiter

    def reload(self, directory: TenantDirectory) -> None:
        """New credentials apply to new binds; new limits to live binds too (they stay up).
        A tenant removed from the directory keeps its live binds on its old settings."""
        self.directory = directory
        for entry in directory:
            system_id = entry.config.system_id
            limiter = self._tenant_limiters.get(system_id)
            if limiter is not None:
                rate = entry.config.tenant_tps
                limiter.set_rate(rate, max(1.0, rate / 10))
            for bind in list(self._binds.get(system_id, ())):
                bind.apply_tenant(entry)

    def binds_by_tenant_and_type(self) -> dict[str, dict[str, int]]:
        return {
            system_id: dict(Counter(b.bind_type for b in binds)) for system_id, binds in self._binds.items()
        }

    def all_binds(self) -> list[LiveBind]:
        return [b for binds in self._binds.values() for b in binds]
