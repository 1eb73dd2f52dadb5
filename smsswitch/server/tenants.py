"""The tenants the server accepts binds from, looked up by system_id, with compiled policy.

`TenantDirectory` is what the daemon hands the server (and hands it again on SIGHUP). Each
tenant's allowed-sender globs are compiled once here, so the per-submit check is a set
lookup plus, only when the tenant uses wildcards, a precompiled pattern match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

import attrs

from smsswitch.allowlist import address_allowed
from smsswitch.config import TenantConfig

__all__ = ["SenderPolicy", "TenantDirectory", "TenantEntry"]


@attrs.frozen
class SenderPolicy:
    """Which source addresses a tenant may send from: no entries means any sender."""

    exact: frozenset[str]
    pattern: re.Pattern[str] | None
    any_sender: bool

    @classmethod
    def from_globs(cls, globs: Iterable[str]) -> SenderPolicy:
        globs = tuple(globs)
        exact = frozenset(g.casefold() for g in globs if not any(c in g for c in "*?["))
        wild = [fnmatch.translate(g.casefold()) for g in globs if g.casefold() not in exact]
        pattern = re.compile("|".join(f"(?:{w})" for w in wild)) if wild else None
        return cls(exact, pattern, not globs)

    def allows(self, sender: str, e164: str | None = None) -> bool:
        """True if `sender` as written (case-insensitive), or its E.164 form, matches."""
        if self.any_sender:
            return True
        for candidate in (sender, e164) if e164 and e164 != sender else (sender,):
            folded = candidate.casefold()
            if folded in self.exact or (self.pattern is not None and self.pattern.fullmatch(folded)):
                return True
        return False


@attrs.frozen
class TenantEntry:
    """A tenant's config plus what the server derives from it once."""

    config: TenantConfig
    senders: SenderPolicy

    def ip_allowed(self, host: str) -> bool:
        """No allowed_networks configured means any source address."""
        return address_allowed(host, self.config.allowed_networks)


class TenantDirectory:
    """Tenants by system_id (exact, case-sensitive as SMPP system_ids are)."""

    def __init__(self, tenants: Iterable[TenantConfig] = ()) -> None:
        self._by_system_id: dict[str, TenantEntry] = {}
        for tenant in tenants:
            if tenant.system_id in self._by_system_id:
                raise ValueError(f"duplicate tenant system_id {tenant.system_id!r}")
            self._by_system_id[tenant.system_id] = TenantEntry(
                tenant, SenderPolicy.from_globs(tenant.allowed_senders)
            )

    def get(self, system_id: str) -> TenantEntry | None:
        return self._by_system_id.get(system_id)

    def __len__(self) -> int:
        return len(self._by_system_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_system_id.values())
