"""Delivers what tenants are owed (receipts, MO) to their bound receiver/transceiver sessions.

One task for all tenants. Per tenant it pages the journal's outbox oldest first, only as
many entries as the tenant's outlets have room for, spreading them over the outlets.
An entry leaves the journal only on the tenant's positive deliver_sm_resp (acks are
batched into one commit per pass); a negative answer or a timeout reschedules it with
backoff; a tenant without outlets keeps everything on disk. Memory is bounded by the
outlets' room: nothing is loaded that cannot be offered now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import structlog
import trio

from smsswitch.config import TenantConfig
from smsswitch.core.receipts import deliver_sm_of
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import AckOutbox, RescheduleOutbox
from smsswitch.journal.records import OutboxEntry, OutboxKind, decode_outbox
from smsswitch.journal.store import iter_keys
from smsswitch.server.api import DeliveryOutlet, OutboundDelivery
from smsswitch.smpp.constants import CommandStatus

log = structlog.get_logger("smsswitch.core")

SMPP_KINDS = frozenset({OutboxKind.RECEIPT, OutboxKind.MO})
#: Index entries examined per tenant per pass at most (skipping in-flight or backing-off ones).
MAX_EXAMINE = 2000
#: Retry delays after a negative answer or timeout: 2 s doubling up to 5 minutes.
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
#: Pass at least this often (retries falling due); everything else wakes the task itself.
IDLE_PASS = 1.0


def backoff(attempts: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** min(attempts, 16)))


class _Flight:
    __slots__ = ("tenant", "outlet", "sent_at", "attempts")

    def __init__(self, tenant: str, outlet: DeliveryOutlet, sent_at: float, attempts: int) -> None:
        self.tenant = tenant
        self.outlet = outlet
        self.sent_at = sent_at
        self.attempts = attempts


class OutboxDispatcher:
    def __init__(
        self, journal: Journal, tenants: Mapping[str, TenantConfig], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.journal = journal
        self.tenants = tenants
        self.clock = clock
        self.outlets: dict[str, list[DeliveryOutlet]] = {}
        self.inflight: dict[str, _Flight] = {}
        #: answered entries whose ack/reschedule is not committed yet (never re-offered).
        self._acks: list[str] = []
        self._retries: list[tuple[str, float]] = []
        self._settling: set[str] = set()
        self._cursor: dict[str, bytes | None] = {}
        self._dirty: set[str] = set()
        self._rr: dict[str, int] = {}
        self._wake = trio.Event()
        self.counts = {"offered": 0, "acked": 0, "nacked": 0, "timeouts": 0, "lost": 0}

    # ------------------------------------------------------------------ server side

    def outlet_up(self, outlet: DeliveryOutlet) -> None:
        name = outlet.bind.tenant.name
        self.outlets.setdefault(name, []).append(outlet)
        self.notify(name)

    def outlet_down(self, outlet: DeliveryOutlet, unanswered: Iterable[OutboundDelivery]) -> None:
        name = outlet.bind.tenant.name
        outlets = self.outlets.get(name, [])
        if outlet in outlets:
            outlets.remove(outlet)
        if not outlets:
            self.outlets.pop(name, None)
        for delivery in unanswered:
            self.inflight.pop(delivery.entry_id, None)
        # Anything else still recorded against this outlet will never be answered.
        for entry_id in [i for i, f in self.inflight.items() if f.outlet is outlet]:
            del self.inflight[entry_id]
        self._cursor[name] = None
        self.notify(name)

    def answered(self, answers: Iterable[tuple[str, int]]) -> None:
        now = self.clock()
        for entry_id, status in answers:
            flight = self.inflight.pop(entry_id, None)
            if status == CommandStatus.ESME_ROK:
                self._acks.append(entry_id)
                self._settling.add(entry_id)
                self.counts["acked"] += 1
            else:
                self.counts["timeouts" if status < 0 else "nacked"] += 1
                attempts = flight.attempts if flight is not None else 0
                self._retries.append((entry_id, now + backoff(attempts)))
                self._settling.add(entry_id)
            if flight is not None:
                self._dirty.add(flight.tenant)
        self.kick()

    def notify(self, tenant: str) -> None:
        """New entries for `tenant` (or room): look at it in the next pass."""
        self._dirty.add(tenant)
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ the task

    async def run(self) -> None:
        last_sweep = trio.current_time()
        while True:
            with trio.move_on_after(IDLE_PASS):
                await self._wake.wait()
            self._wake = trio.Event()
            await self.settle()
            sweep = trio.current_time() - last_sweep >= IDLE_PASS
            if sweep:
                last_sweep = trio.current_time()
                self.expire_stale_flights()
            self.fill(self._take_dirty(sweep))

    def _take_dirty(self, sweep: bool) -> list[str]:
        """Tenants to look at: those with news (entries, answers, binds), and on a sweep
        every bound tenant (retries falling due)."""
        names = set(self.outlets) if sweep else self._dirty
        self._dirty = set()
        return [n for n in names if n in self.outlets]

    async def settle(self) -> None:
        """One commit for every ack and reschedule gathered since the last pass."""
        if not self._acks and not self._retries:
            return
        acks, retries = self._acks, self._retries
        self._acks, self._retries = [], []
        ops: list = [AckOutbox(i) for i in acks] + [RescheduleOutbox(i, t) for i, t in retries]
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            # Unacked entries are simply delivered again later (at-least-once).
            log.warning("outbox.settle_failed", error=str(exc), acks=len(acks), retries=len(retries))
        for entry_id in acks:
            self._settling.discard(entry_id)
        for entry_id, _ in retries:
            self._settling.discard(entry_id)

    def expire_stale_flights(self) -> None:
        """Safety net: a delivery nobody reported on for 3× the tenant's deliver_timeout
        (the server reports timeouts itself) is forgotten, so it can be offered again."""
        now = self.clock()
        for entry_id, flight in list(self.inflight.items()):
            tenant = self.tenants.get(flight.tenant)
            limit = 3 * (tenant.deliver_timeout if tenant else 30.0) + 5.0
            if now - flight.sent_at > limit:
                del self.inflight[entry_id]
                self.counts["lost"] += 1

    def fill(self, tenants: Iterable[str]) -> None:
        for name in tenants:
            outlets = [o for o in self.outlets.get(name, ()) if o.room() > 0]
            if outlets:
                self._fill_tenant(name, outlets)

    def _fill_tenant(self, name: str, outlets: list[DeliveryOutlet]) -> None:
        room = sum(o.room() for o in outlets)
        now = self.clock()
        entries = self._page(name, room, now)
        rr = self._rr.get(name, 0)
        for entry in entries:
            for _ in range(len(outlets)):
                outlet = outlets[rr % len(outlets)]
                rr += 1
                if outlet.room() > 0 and outlet.offer(OutboundDelivery(entry.id, deliver_sm_of(entry.payload))):
                    self.inflight[entry.id] = _Flight(name, outlet, now, entry.attempts)
                    self.counts["offered"] += 1
                    break
            else:
                break  # every outlet is full
        self._rr[name] = rr

    def _page(self, name: str, room: int, now: float) -> list[OutboxEntry]:
        """Up to `room` deliverable entries of `name`, oldest first, continuing after the
        last one offered; back to the oldest once the end is reached (retries)."""
        out: list[OutboxEntry] = []
        taken: set[str] = set()
        store = self.journal.store
        prefix = keys.tenant_prefix(name)
        skip_ids = self.inflight
        settling = self._settling
        examined = 0
        after = self._cursor.get(name)
        with self.journal.read() as txn:
            for wrapped in range(2):
                for key in iter_keys(txn, store.outbox_by_tenant, prefix, after=after):
                    examined += 1
                    entry_id = key[len(prefix) :].decode()
                    after = key
                    if entry_id not in skip_ids and entry_id not in settling and entry_id not in taken:
                        raw = txn.get(entry_id.encode(), db=store.outbox)
                        if raw is not None:
                            entry = decode_outbox(raw)
                            if entry.kind in SMPP_KINDS and entry.next_attempt <= now:
                                out.append(entry)
                                taken.add(entry_id)
                    if len(out) >= room or examined >= MAX_EXAMINE:
                        self._cursor[name] = after
                        return out
                after = None  # reached the end: start over from the oldest
                if wrapped == 0 and self._cursor.get(name) is None:
                    break
        self._cursor[name] = None
        return out

    def depth(self) -> dict[str, int]:
        return {"inflight": len(self.inflight), "settling": len(self._settling), "outlets": sum(map(len, self.outlets.values()))}
