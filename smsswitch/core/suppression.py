"""Opt-out lists: which subscribers told which tenant STOP, kept in the journal.

The journal has no table for them yet, so they live in its `meta` sub-database under a
prefix of their own (`optout NUL tenant NUL number`), written by an op that rides in the
same group commit as the MO that caused it. A read costs one LMDB get inside a read
transaction the caller already holds for the whole batch.
"""

from __future__ import annotations

import attrs
import lmdb

from smsswitch.journal.store import Store
from smsswitch.numbers import NumberInfo

_PREFIX = b"optout\x00"


def subscriber_key(number: NumberInfo) -> str:
    """The form a subscriber is filed under: E.164 when known, else as written."""
    return number.e164 or number.raw.strip()


def _key(tenant: str, subscriber: str) -> bytes:
    return _PREFIX + tenant.encode() + b"\x00" + subscriber.encode()


@attrs.frozen
class SetOptOut:
    """Journal op: `subscriber` opted out of (`out=True`) or back into `tenant`'s messages."""

    tenant: str
    subscriber: str
    out: bool
    at: float

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        key = _key(self.tenant, self.subscriber)
        if self.out:
            return txn.put(key, repr(self.at).encode(), db=store.meta)
        return txn.delete(key, db=store.meta)


def is_opted_out(store: Store, txn: lmdb.Transaction, tenant: str, subscriber: str) -> bool:
    return txn.get(_key(tenant, subscriber), db=store.meta) is not None


def has_any(store: Store, txn: lmdb.Transaction) -> bool:
    """True if any opt-out is recorded (lets the accept path skip the lookups entirely)."""
    cursor = txn.cursor(db=store.meta)
    return cursor.set_range(_PREFIX) and cursor.key().startswith(_PREFIX)
