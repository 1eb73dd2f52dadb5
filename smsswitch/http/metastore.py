"""Small records the HTTP edge keeps in the journal's `meta` sub-database, under prefixes of
its own (``http.idem``, ``http.cb``, ``http.audit``), written by ops that ride the journal's
group commit like every other write. The journal has no tables for them; these two ops and
a prefix scan are all they need, so no journal file changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import lmdb

from smsswitch.journal.store import Store, iter_keys

SEP = b"\x00"


def key(prefix: bytes, *parts: str) -> bytes:
    """``prefix NUL part NUL part``: a NUL ends each variable part so prefix scans stay exact."""
    return prefix + SEP + SEP.join(p.encode() for p in parts)


@attrs.frozen
class MetaPut:
    """Journal op: store `value` under `key` (with `overwrite=False`: only if absent; the
    result says whether it was written)."""

    key: bytes
    value: bytes
    overwrite: bool = True

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return bool(txn.put(self.key, self.value, db=store.meta, overwrite=self.overwrite))

    def __repr__(self) -> str:  # values may hold personal data: keep them out of logs
        return f"MetaPut({self.key[:24]!r}, <{len(self.value)} bytes>)"


@attrs.frozen
class MetaDelete:
    """Journal op: remove `key`; the result says whether it was there."""

    key: bytes

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return bool(txn.delete(self.key, db=store.meta))


def iter_prefix(
    txn: lmdb.Transaction, store: Store, prefix: bytes, *, after: bytes | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) under `prefix` in key order, strictly after `after` when given."""
    for k in iter_keys(txn, store.meta, prefix, after=after):
        value = txn.get(k, db=store.meta)
        if value is not None:
            yield k, value


def get(txn: lmdb.Transaction, store: Store, k: bytes) -> Any:
    return txn.get(k, db=store.meta)


async def purge(journal: Any, prefix: bytes, expired: Callable[[bytes], bool], *, batch: int = 500) -> int:
    """Delete every record under `prefix` whose value `expired` says so, one commit per
    `batch` scanned keys (the daemon's writes keep flowing in between). Returns how many."""
    removed = 0
    after: bytes | None = None
    while True:
        doomed: list[MetaDelete] = []
        scanned = 0
        with journal.read() as txn:
            for k, value in iter_prefix(txn, journal.store, prefix, after=after):
                after = k
                scanned += 1
                if expired(value):
                    doomed.append(MetaDelete(k))
                if scanned >= batch:
                    break
        if doomed:
            removed += sum(1 for r in await journal.commit(doomed) if r)
        if scanned < batch:
            return removed
