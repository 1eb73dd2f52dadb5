"""Delivers what tenants are owed (receipts, MO) to their bound receiver/transceiver sessions.

One task for all tenants. A receipt whose commit just landed is handed over in memory
(`claim` before that commit, `hand_over` after it) and offered from a bounded per-tenant
"fresh" queue, so the hot path never reads back what it just wrote. The disk is the truth:
the journal's outbox is paged (oldest first, only as many entries as the tenant's outlets
have room for) when a tenant binds, when entries arrived another way (`notify`), when the
fresh queue overflowed, and once per second for retries falling due. The pager skips what
is in memory, in flight or being settled, so each entry is offered once at a time.
An entry leaves the journal only on the tenant's positive deliver_sm_resp (acks are
batched into one commit per pass); a negative answer or a timeout reschedules it with
backoff; a tenant without outlets keeps everything on disk only. Memory is bounded by the
outlets' room plus the fresh caps.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping

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
#: Entries kept in memory after their commit, per tenant and in all; beyond that the disk
#: pager takes over (the memory copy is simply not kept).
FRESH_PER_TENANT = 2000
FRESH_TOTAL = 10000


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
        #: tenants whose journal outbox may hold entries that are not in memory: page it.
        self._disk: set[str] = set()
        #: committed entries handed over in memory, per tenant, oldest first.
        self._fresh: dict[str, deque[OutboxEntry]] = {}
        #: ids of those, and of entries claimed by a commit in flight: the pager leaves them.
        self._held: set[str] = set()
        self._rr: dict[str, int] = {}
        self._wake = trio.Event()
        self.counts = {"offered": 0, "acked": 0, "nacked": 0, "timeouts": 0, "lost": 0, "from_memory": 0, "fresh_overflow": 0}

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
            self._drop_fresh(name)  # nobody to offer them to: the disk keeps them
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
        """New entries for `tenant` on disk only (or room): page its outbox in the next pass."""
        self._disk.add(tenant)
        self._dirty.add(tenant)
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ in-memory hand-over

    def claim(self, entries: Iterable[OutboxEntry]) -> None:
        """Before the commit that adds `entries`: the pager must not offer them from disk
        meanwhile, or `hand_over` would offer them a second time."""
        self._held.update(e.id for e in entries)

    def hand_over(self, entries: Iterable[OutboxEntry], landed: Collection[str] | None) -> None:
        """After that commit: keep the ones that `landed` (ids; None = unknown, e.g. the
        commit was cancelled) in memory to offer them without reading them back. What is
        not kept is left to the disk pager."""
        tenants: set[str] = set()
        for entry in entries:
            self._held.discard(entry.id)
            tenants.add(entry.tenant)
            if landed is None:
                self._disk.add(entry.tenant)
            elif entry.id in landed:
                self._keep(entry)
        for name in tenants:
            self._dirty.add(name)
        self.kick()

    def _keep(self, entry: OutboxEntry) -> None:
        """Queue a landed entry in memory, or fall back to the disk when there is no
        outlet or no memory budget left."""
        name = entry.tenant
        if entry.kind not in SMPP_KINDS or name not in self.outlets:
            self._disk.add(name)
            return
        queue = self._fresh.get(name)
        if queue is None:
            queue = self._fresh[name] = deque()
        if len(queue) >= FRESH_PER_TENANT or len(self._held) >= FRESH_TOTAL:
            self.counts["fresh_overflow"] += 1
            self._disk.add(name)
            return
        queue.append(entry)
        self._held.add(entry.id)

    def _drop_fresh(self, name: str) -> None:
        """Forget the tenant's in-memory entries (they are on disk) and page the disk."""
        queue = self._fresh.pop(name, None)
        if queue:
            self._held.difference_update(e.id for e in queue)
        self._disk.add(name)

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
                self._disk.update(self.outlets)  # retries falling due
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
        """Offer the tenant's fresh entries first, then (if the disk may hold more) paged ones."""
        room = sum(o.room() for o in outlets)
        now = self.clock()
        entries = self._take_fresh(name, room, now)
        if len(entries) < room and name in self._disk:
            entries += self._page(name, room - len(entries), now, {e.id for e in entries})
        if entries:
            self._offer(name, outlets, entries, now)

    def _take_fresh(self, name: str, room: int, now: float) -> list[OutboxEntry]:
        """Up to `room` of the tenant's in-memory entries, oldest first."""
        queue = self._fresh.get(name)
        if not queue:
            return []
        out: list[OutboxEntry] = []
        held, inflight, settling = self._held, self.inflight, self._settling
        while queue and len(out) < room:
            entry = queue.popleft()
            held.discard(entry.id)
            if entry.id in inflight or entry.id in settling:
                continue  # cannot happen while claims hold; never offer an entry twice
            if entry.expires is not None and entry.expires <= now:
                self._disk.add(name)  # the expirer dead-letters it from disk
                continue
            out.append(entry)
        self.counts["from_memory"] += len(out)
        return out

    def _offer(self, name: str, outlets: list[DeliveryOutlet], entries: list[OutboxEntry], now: float) -> None:
        """Spread `entries` evenly over the outlets (taking turns which one goes first)."""
        count = len(outlets)
        start = self._rr.get(name, 0) % count
        self._rr[name] = start + 1
        order = outlets[start:] + outlets[:start]
        inflight = self.inflight
        pos = 0
        total = len(entries)
        for turn in range(2):  # the second turn fills what the even split left over
            for k, outlet in enumerate(order):
                left = total - pos
                if left <= 0:
                    break
                share = min(outlet.room(), left if turn else -(-left // (count - k)))
                for entry in entries[pos : pos + share]:
                    if not outlet.offer(OutboundDelivery(entry.id, deliver_sm_of(entry.payload))):
                        break
                    inflight[entry.id] = _Flight(name, outlet, now, entry.attempts)
                    pos += 1
        self.counts["offered"] += pos
        if pos < total:  # outlets refused (going away): the disk still has them
            self._disk.add(name)
            self._cursor[name] = None

    def _page(self, name: str, room: int, now: float, taken: set[str]) -> list[OutboxEntry]:
        """Up to `room` deliverable entries of `name`, oldest first, continuing after the
        last one offered; back to the oldest once the end is reached (retries). Having
        looked at everything, the tenant's disk needs no pass until told otherwise."""
        out: list[OutboxEntry] = []
        store = self.journal.store
        prefix = keys.tenant_prefix(name)
        skip_ids = self.inflight
        settling = self._settling
        held = self._held
        examined = 0
        after = self._cursor.get(name)
        with self.journal.read() as txn:
            for wrapped in range(2):
                for key in iter_keys(txn, store.outbox_by_tenant, prefix, after=after):
                    examined += 1
                    entry_id = key[len(prefix) :].decode()
                    after = key
                    if entry_id not in skip_ids and entry_id not in settling and entry_id not in held and entry_id not in taken:
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
        self._disk.discard(name)
        return out

    def depth(self) -> dict[str, int]:
        return {
            "inflight": len(self.inflight), "settling": len(self._settling), "fresh": len(self._held),
            "outlets": sum(map(len, self.outlets.values())),
        }  # fmt: skip
