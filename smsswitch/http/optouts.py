"""A tenant's opt-out (suppression) list over HTTP, on the core's own store.

The core files opt-outs (from STOP MOs) with `smsswitch.core.suppression.SetOptOut` and
checks them on every MT; the API adds, removes and lists the same records, so a number
suppressed here is refused exactly like one that texted STOP. Numbers are parsed as the
tenant's submits are (default region) and filed as E.164.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from smsswitch.config import TenantConfig
from smsswitch.core import suppression
from smsswitch.core.suppression import SetOptOut, subscriber_key
from smsswitch.http import metastore
from smsswitch.http.errors import ApiError
from smsswitch.journal.journal import Journal
from smsswitch.numbers import INVALID, SHORTCODE, parse_number

MAX_PAGE = 1000


@attrs.frozen
class OptOut:
    number: str
    since: float


def normalise(raw: object, tenant: TenantConfig) -> str:
    """The subscriber key for `raw` ("+263…", or national in the tenant's region), or 400."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise ApiError(400, "invalid_number", "'number' must be a phone number")
    info = parse_number(raw.strip(), 0, 1, tenant.default_region)
    if info.kind in (INVALID, SHORTCODE) or info.e164 is None:
        raise ApiError(400, "invalid_number", "'number' is not a phone number")
    return subscriber_key(info)


def _prefix(tenant: str) -> bytes:
    # The core's key layout is `optout NUL tenant NUL subscriber`: its key for "" is the prefix.
    return suppression._key(tenant, "")


class OptOutList:
    def __init__(self, journal: Journal, on_change: Callable[[], None] | None = None) -> None:
        self.journal = journal
        self.on_change = on_change or (lambda: None)

    def page(self, tenant: str, *, limit: int = 100, after: str | None = None) -> list[OptOut]:
        prefix = _prefix(tenant)
        start = prefix + after.encode() if after else None
        out: list[OptOut] = []
        with self.journal.read() as txn:
            for k, value in metastore.iter_prefix(txn, self.journal.store, prefix, after=start):
                out.append(OptOut(k[len(prefix) :].decode(), float(value)))
                if len(out) >= min(limit, MAX_PAGE):
                    break
        return out

    def get(self, tenant: str, number: str) -> OptOut | None:
        with self.journal.read() as txn:
            value = metastore.get(txn, self.journal.store, _prefix(tenant) + number.encode())
        return None if value is None else OptOut(number, float(value))

    def ops(self, tenant: str, number: str, out: bool, at: float) -> list[SetOptOut]:
        return [SetOptOut(tenant, number, out, at)]

    def changed(self) -> None:
        """Tell the core opt-outs exist now (it skips the lookup while none do)."""
        self.on_change()
