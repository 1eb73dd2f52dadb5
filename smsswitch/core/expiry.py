"""Time-driven endings, in one task: outbox entries past their tenant's outbox_ttl become
dead letters; parked carrier receipts are matched late or dead-lettered after
unmatched_receipt_ttl; messages a carrier accepted but never sent a receipt for end
UNKNOWN (with a receipt, so the tenant stops waiting) `receipt_wait` after their validity,
or after they went ENROUTE when they had none. (Messages past their validity before any
carrier took them are ended by the feeder's refill pass and by connectors.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
import trio

from smsswitch.config import TenantConfig
from smsswitch.core.inbound import CarrierInbound
from smsswitch.core.outbox import OutboxDispatcher
from smsswitch.core.owed import Owed
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import DeadLetterOutbox
from smsswitch.journal.records import MessageState, decode_outbox
from smsswitch.journal.store import iter_keys

log = structlog.get_logger("smsswitch.core")

#: Outbox entries looked at per tenant per pass (oldest first, so expired ones come first).
MAX_EXAMINE = 1000
PASS_INTERVAL = 1.0
#: Parked receipts are re-checked against the correlation index this often.
PARKED_INTERVAL = 2.0
#: ENROUTE messages without a receipt are looked for this often, this many per pass.
ENROUTE_INTERVAL = 60.0
ENROUTE_BATCH = 500
#: How long after its validity (or its ENROUTE time) a message may wait for its receipt.
RECEIPT_WAIT = 72 * 3600.0


class Expirer:
    def __init__(
        self,
        journal: Journal,
        tenants: Mapping[str, TenantConfig],
        inbound: CarrierInbound,
        dispatcher: OutboxDispatcher,
        owed: Owed,
        notify: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.time,
        receipt_wait: float = RECEIPT_WAIT,
        enroute_interval: float = ENROUTE_INTERVAL,
    ) -> None:
        self.journal = journal
        self.tenants = tenants
        self.inbound = inbound
        self.dispatcher = dispatcher
        self.owed = owed
        self.notify = notify
        self.clock = clock
        self.receipt_wait = receipt_wait
        self.enroute_interval = enroute_interval
        self.dead_lettered = 0
        self.receipts_given_up = 0

    async def run(self) -> None:
        last_parked = last_enroute = time.monotonic()
        while True:
            await trio.sleep(PASS_INTERVAL)
            await self.expire_outbox()
            now = time.monotonic()
            if now - last_parked >= PARKED_INTERVAL:
                last_parked = now
                await self.inbound.recheck(expire=True)
            if now - last_enroute >= self.enroute_interval:
                last_enroute = now
                await self.give_up_receipts()

    async def give_up_receipts(self) -> int:
        """End ENROUTE messages whose receipt is overdue as UNKNOWN (stat UNKNOWN)."""
        now = self.clock()
        records = self.journal.due(MessageState.ENROUTE, now - self.receipt_wait, limit=ENROUTE_BATCH)
        if not records:
            return 0
        ops: list[Any] = []
        tenants: set[str] = set()
        for record in records:
            op, entries = self.owed.finish(record, MessageState.UNKNOWN, now, detail="no receipt from the carrier")
            ops.append(op)
            if entries:
                tenants.add(record.tenant)
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            log.warning("mt.receipt_wait_failed", count=len(ops), error=str(exc))
            return 0
        self.receipts_given_up += len(ops)
        log.info("mt.receipts_overdue", count=len(ops))
        for name in tenants:
            self.notify(name)
        return len(ops)

    async def expire_outbox(self) -> int:
        now = self.clock()
        ops: list[DeadLetterOutbox] = []
        store = self.journal.store
        inflight = self.dispatcher.inflight
        with self.journal.read() as txn:
            for name in self.tenants:
                prefix = keys.tenant_prefix(name)
                for examined, key in enumerate(iter_keys(txn, store.outbox_by_tenant, prefix)):
                    if examined >= MAX_EXAMINE:
                        break
                    entry_id = key[len(prefix) :].decode()
                    raw = txn.get(entry_id.encode(), db=store.outbox)
                    if raw is None or entry_id in inflight:
                        continue
                    entry = decode_outbox(raw)
                    if entry.expires is None:
                        continue  # redriven by an operator: kept until delivered
                    if entry.expires > now:
                        break  # ids are time-ordered and a tenant's ttl is one value
                    ops.append(DeadLetterOutbox(entry_id, "outbox_ttl passed before the tenant took it", now))
        if not ops:
            return 0
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            log.warning("outbox.expiry_failed", count=len(ops), error=str(exc))
            return 0
        self.dead_lettered += len(ops)
        self.dispatcher.counts["dead"] = self.dispatcher.counts.get("dead", 0) + len(ops)
        log.info("outbox.expired", count=len(ops))
        return len(ops)
