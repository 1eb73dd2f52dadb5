"""Time-driven endings, in one task: outbox entries past their tenant's outbox_ttl become
dead letters; parked carrier receipts are matched late or dead-lettered after
unmatched_receipt_ttl. (Messages past their validity are ended by the feeder's refill pass,
which is the one reading QUEUED messages anyway, and by connectors for queued jobs.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog
import trio

from smsswitch.config import TenantConfig
from smsswitch.core.inbound import CarrierInbound
from smsswitch.core.outbox import OutboxDispatcher
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import DeadLetterOutbox
from smsswitch.journal.records import decode_outbox
from smsswitch.journal.store import iter_keys

log = structlog.get_logger("smsswitch.core")

#: Outbox entries looked at per tenant per pass (oldest first, so expired ones come first).
MAX_EXAMINE = 1000
PASS_INTERVAL = 1.0
#: Parked receipts are re-checked against the correlation index this often.
PARKED_INTERVAL = 2.0


class Expirer:
    def __init__(
        self,
        journal: Journal,
        tenants: Mapping[str, TenantConfig],
        inbound: CarrierInbound,
        dispatcher: OutboxDispatcher,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.tenants = tenants
        self.inbound = inbound
        self.dispatcher = dispatcher
        self.clock = clock
        self.dead_lettered = 0

    async def run(self) -> None:
        last_parked = 0.0
        while True:
            await trio.sleep(PASS_INTERVAL)
            await self.expire_outbox()
            if time.monotonic() - last_parked >= PARKED_INTERVAL:
                last_parked = time.monotonic()
                await self.inbound.recheck(expire=True)

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
