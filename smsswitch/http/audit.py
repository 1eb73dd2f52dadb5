"""Append-only audit log: who did what to the switch, and when.

Every admin action (opt-out list changes, erase, route reload, redrive) and every request
made with an admin- or operator-scoped key is one record, written through the journal's
group commit under ``http.audit NUL <id>`` in its meta sub-database. Ids are the journal's
time-ordered ids, so key order is time order and `entries` pages oldest first. There is no
op that changes or deletes a record. Phone numbers are stored masked (+26377*****67).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import msgpack

from smsswitch.http import metastore
from smsswitch.journal.journal import Journal

PREFIX = b"http.audit"
_START = PREFIX + metastore.SEP


@attrs.frozen
class AuditEntry:
    id: str
    at: float
    actor: str  # API key id (or "cli" for the command line)
    tenant: str  # the actor's tenant
    action: str  # e.g. "suppression.add", "erase", "routes.reload", "key.use"
    target: str | None = None
    outcome: str = ""  # HTTP status, or "denied"
    source: str = ""  # client address
    detail: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class AuditLog:
    def __init__(self, journal: Journal, *, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.clock = clock

    def op(
        self, actor: str, tenant: str, action: str, target: str | None = None, outcome: str = "",
        source: str = "", detail: dict[str, Any] | None = None,
    ) -> metastore.MetaPut:  # fmt: skip
        """The journal op appending one record (commit it alone or with the action's ops)."""
        entry = AuditEntry(self.journal.new_id(), self.clock(), actor, tenant, action, target, outcome, source, detail or {})
        value = msgpack.packb(
            [entry.at, entry.actor, entry.tenant, entry.action, entry.target, entry.outcome, entry.source, entry.detail],
            use_bin_type=True,
        )
        return metastore.MetaPut(_START + entry.id.encode(), value, overwrite=False)

    async def record(self, *args: Any, **kwargs: Any) -> None:
        await self.journal.commit([self.op(*args, **kwargs)])


def entries(
    journal: Journal, *, limit: int = 100, after: str | None = None, since: float | None = None,
    actor: str | None = None, action: str | None = None,
) -> list[AuditEntry]:  # fmt: skip
    """Records oldest first, after the record id `after`, filtered; works on a read-only
    journal (the CLI beside a running daemon)."""
    out: list[AuditEntry] = []
    start = _START + after.encode() if after else None
    with journal.read() as txn:
        for k, raw in metastore.iter_prefix(txn, journal.store, _START, after=start):
            at, who, tenant, what, target, outcome, source, detail = msgpack.unpackb(raw)[:8]
            if since is not None and at < since:
                continue
            if (actor and who != actor) or (action and what != action):
                continue
            out.append(AuditEntry(k[len(_START) :].decode(), at, who, tenant, what, target, outcome, source, detail))
            if len(out) >= limit:
                break
    return out
