"""Hands webhook outbox entries to the http layer's sender, one task for all tenants.

The core cannot import the http layer (it sits above), so the daemon passes a
`WebhookSender`; without one, webhook entries wait on disk until their outbox_ttl.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog
import trio

from smsswitch.config import TenantConfig
from smsswitch.core.outbox import backoff
from smsswitch.core.ports import WebhookSender
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import AckOutbox, RescheduleOutbox
from smsswitch.journal.records import OutboxEntry, OutboxKind, decode_outbox
from smsswitch.journal.store import iter_keys

log = structlog.get_logger("smsswitch.core")

#: Entries per tenant per call to the sender, and index entries examined per pass.
BATCH = 50
MAX_EXAMINE = 2000
IDLE_PASS = 1.0


class WebhookPump:
    def __init__(
        self, journal: Journal, tenants: Mapping[str, TenantConfig], sender: WebhookSender,
        *, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.journal = journal
        self.tenants = tenants
        self.sender = sender
        self.clock = clock
        self._wake = trio.Event()
        self.counts = {"sent": 0, "failed": 0}

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            with trio.move_on_after(IDLE_PASS):
                await self._wake.wait()
            self._wake = trio.Event()
            for tenant in self.tenants.values():
                if tenant.webhook is not None:
                    await self.pump(tenant)

    async def pump(self, tenant: TenantConfig) -> None:
        entries = self._due(tenant.name)
        if not entries:
            return
        try:
            outcomes = await self.sender.send(tenant, entries)
        except Exception as exc:  # the sender's trouble must not end the switch
            log.warning("webhook.sender_failed", tenant=tenant.name, error=repr(exc))
            outcomes = [False] * len(entries)
        now = self.clock()
        ops: list = []
        for entry, ok in zip(entries, outcomes):
            if ok:
                ops.append(AckOutbox(entry.id))
                self.counts["sent"] += 1
            else:
                ops.append(RescheduleOutbox(entry.id, now + backoff(entry.attempts)))
                self.counts["failed"] += 1
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            log.warning("webhook.settle_failed", tenant=tenant.name, error=str(exc))

    def _due(self, name: str) -> list[OutboxEntry]:
        now = self.clock()
        out: list[OutboxEntry] = []
        store = self.journal.store
        prefix = keys.tenant_prefix(name)
        with self.journal.read() as txn:
            for examined, key in enumerate(iter_keys(txn, store.outbox_by_tenant, prefix)):
                if examined >= MAX_EXAMINE or len(out) >= BATCH:
                    break
                raw = txn.get(key[len(prefix) :], db=store.outbox)
                if raw is None:
                    continue
                entry = decode_outbox(raw)
                if entry.kind is OutboxKind.WEBHOOK and entry.next_attempt <= now:
                    out.append(entry)
        return out
