"""Idempotency-Key for POST /v1/messages: a retried request gets the first answer, never a
second message.

The key is recorded durably as "pending" BEFORE the message is submitted and completed with
the answer after, so even a crash between the two cannot produce a duplicate: a retry that
finds a pending key it is not itself running answers 409 `idempotency_outcome_unknown`
(the client looks the message up by its clientReference instead of sending again). A refused
submit leaves nothing behind (no message was created), so the key is freed for a retry.
Keys live `ttl` seconds (24 h by default), then `purge_expired` removes them in batches.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import msgpack

from smsswitch.http import metastore
from smsswitch.http.errors import ApiError
from smsswitch.journal.journal import Journal

PREFIX = b"http.idem"
DEFAULT_TTL = 24 * 3600.0
MAX_KEY_LENGTH = 200


@attrs.frozen
class Stored:
    """What a key holds: the request's fingerprint and, once known, the answer."""

    fingerprint: str
    at: float
    status: int | None = None  # None: pending (the submit's outcome is not recorded)
    body: bytes = b""


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_key(value: str) -> str:
    if not (0 < len(value) <= MAX_KEY_LENGTH) or not value.isascii() or not value.isprintable():
        raise ApiError(400, "invalid_idempotency_key", f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters")
    return value


class IdempotencyStore:
    def __init__(self, journal: Journal, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.ttl = ttl
        self.clock = clock
        self._busy: set[tuple[str, str]] = set()

    def get(self, tenant: str, key: str) -> Stored | None:
        with self.journal.read() as txn:
            raw = metastore.get(txn, self.journal.store, metastore.key(PREFIX, tenant, key))
        if raw is None:
            return None
        stored = Stored(*msgpack.unpackb(raw))
        return None if stored.at + self.ttl <= self.clock() else stored

    def lookup(self, tenant: str, key: str, print_: str) -> Stored | None:
        """The earlier answer to replay, None if the key is free; 409 while a request with
        the key runs or ran without finishing, 422 for the key on a different request."""
        if (tenant, key) in self._busy:
            raise ApiError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still running")
        stored = self.get(tenant, key)
        if stored is None:
            return None
        if stored.fingerprint != print_:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
        if stored.status is None:
            raise ApiError(409, "idempotency_outcome_unknown",
                           "an earlier request with this Idempotency-Key did not finish; look the message up "
                           "by its clientReference before sending again")  # fmt: skip
        return stored

    async def begin(self, tenant: str, key: str, print_: str) -> None:
        """Mark the key pending, durably, before the submit (call `lookup` first; then
        `finish` or `release`)."""
        if (tenant, key) in self._busy:
            raise ApiError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still running")
        self._busy.add((tenant, key))
        try:
            await self.journal.commit([self._put(tenant, key, Stored(print_, self.clock()))])
        except BaseException:
            self._busy.discard((tenant, key))
            raise

    async def finish(
        self, tenant: str, key: str, print_: str, status: int, body: bytes, also: Sequence[Any] = ()
    ) -> None:
        """Record the answer a retry will get (in one commit with the ops in `also`)."""
        try:
            await self.journal.commit([self._put(tenant, key, Stored(print_, self.clock(), status, body)), *also])
        finally:
            self._busy.discard((tenant, key))

    async def release(self, tenant: str, key: str) -> None:
        """Nothing was created: free the key for a retry."""
        try:
            await self.journal.commit([metastore.MetaDelete(metastore.key(PREFIX, tenant, key))])
        finally:
            self._busy.discard((tenant, key))

    def abandon(self, tenant: str, key: str) -> None:
        """The submit's outcome is unknown: keep the pending record, free the key in memory."""
        self._busy.discard((tenant, key))

    def _put(self, tenant: str, key: str, stored: Stored) -> metastore.MetaPut:
        value = msgpack.packb([stored.fingerprint, stored.at, stored.status, stored.body], use_bin_type=True)
        return metastore.MetaPut(metastore.key(PREFIX, tenant, key), value)

    async def purge_expired(self) -> int:
        """Remove keys older than the ttl. Returns how many."""
        cutoff = self.clock() - self.ttl
        return await metastore.purge(self.journal, PREFIX + metastore.SEP, lambda v: msgpack.unpackb(v)[1] <= cutoff)
