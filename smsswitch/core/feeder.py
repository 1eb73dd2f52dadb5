"""Hands QUEUED messages to their connectors: at once on accept, later from the journal.

The journal is the queue. On accept a message goes straight to its connector's bounded
in-memory queue (`try_submit`); when that is full it simply stays QUEUED on disk and one
refill task pages the journal's QUEUED index (earliest due first) to hand it over when
there is room. The same pass picks up scheduled messages when their time comes, messages
replayed after a restart, and ends those whose validity ran out before a carrier got them.

Memory stays bounded: `handed` holds only what the connectors hold (their queues and
windows), and a pass reads at most PAGE records.

Back-pressure before the disk round trip: a message that finds its connector full costs a
journal read and decode more when the refill pass pages it back (measured: the dearest part
of the daemon when tenants outrun the carrier). So `admit` holds a tenant's next batch
before it is accepted, while the connector its messages went to lately is full (or still has
older messages on disk), until the batch fits - at most HOLD_MAX; then it is accepted
anyway and waits on disk as before. A connector that is not bound holds nobody: its
messages wait on disk, and past `max_backlog` tenants are refused (ESME_RMSGQFUL) as
before. The hold is per tenant, not per connector, because the route is chosen after it:
it guesses from where the tenant's messages went last.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import structlog
import trio

from smsswitch.carrier.api import SubmitJob
from smsswitch.core.jobs import submit_job
from smsswitch.core.ports import ConnectorPort
from smsswitch.journal import keys
from smsswitch.journal.journal import Journal
from smsswitch.journal.records import MessageRecord, MessageState

log = structlog.get_logger("smsswitch.core")

#: Records read per refill pass, and index entries examined at most (skipping handed ones).
PAGE = 500
MAX_EXAMINE = 5000
#: How long a connector's "up" answer is trusted (health() is not free).
HEALTH_TTL = 1.0
#: Pages per state and refill pass at most.
MAX_ROUNDS = 10
#: Refill pacing: while some connector is full, look again after BLOCKED_RETRY (doubling
#: up to BLOCKED_RETRY_MAX while passes place nothing); otherwise at least every IDLE_PASS
#: (a safety net: everything that should wake the task does so explicitly).
BLOCKED_RETRY = 0.05
BLOCKED_RETRY_MAX = 1.0
IDLE_PASS = 5.0
#: `admit` holds a tenant's batch at most this long for room in its connector's queue.
HOLD_MAX = 1.0

#: What the refill pass asks of the switch for messages it cannot simply hand over.
Reroute = Callable[[list[MessageRecord]], Awaitable[None]]
Expire = Callable[[list[MessageRecord]], Awaitable[None]]


class Feeder:
    def __init__(
        self,
        journal: Journal,
        connectors: Mapping[str, ConnectorPort],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.connectors = connectors
        self.clock = clock
        #: message id -> connector currently holding its job (queue, window, or reporting).
        self.handed: dict[str, str] = {}
        #: ids an accept, cancel or replace is working on: the refill pass leaves them alone.
        self.claimed: set[str] = set()
        #: connectors found full: new messages for them wait on disk behind older ones
        #: (first in, first out) until a refill pass finds room again.
        self.full: set[str] = set()
        self.offered = 0
        self.refused = 0
        #: tenant -> the connector its latest message was offered to (what `admit` waits on).
        self.lanes: dict[str, str] = {}
        self.holds = 0
        self.hold_timeouts = 0
        self._passed = trio.Event()  # set after each refill pass (`full` may have changed)
        self._health: dict[str, tuple[float, bool]] = {}
        self._wake = trio.Event()
        self._next_due = math.inf
        self._retry = BLOCKED_RETRY
        self.reroute: Reroute | None = None
        self.expire: Expire | None = None

    # ------------------------------------------------------------------ choosing

    def is_up(self, name: str) -> bool:
        """Bound to its carrier, by the connector's own health (cached for HEALTH_TTL)."""
        now = time.monotonic()
        cached = self._health.get(name)
        if cached is not None and now - cached[0] < HEALTH_TTL:
            return cached[1]
        connector = self.connectors.get(name)
        up = connector is not None and connector.health().sessions_bound > 0
        self._health[name] = (now, up)
        return up

    def choose(self, candidates: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
        """The first configured candidate that is up (else the first configured one, which
        queues until it binds), and the failover candidates after it."""
        configured = [c for c in candidates if c in self.connectors]
        if not configured:
            return None, ()
        for i, name in enumerate(configured):
            if self.is_up(name):
                return name, tuple(configured[i + 1 :])
        return configured[0], tuple(configured[1:])

    # ------------------------------------------------------------------ handing over

    @property
    def blocked(self) -> bool:
        return bool(self.full)

    def offer(self, record: MessageRecord, failover: tuple[str, ...] | None, *, refill: bool = False) -> bool:
        """Hand a QUEUED record to its connector now; False leaves it QUEUED on disk for
        the refill pass (and makes that pass run). While a connector is full, new messages
        for it go behind the older ones on disk instead of overtaking them."""
        if record.schedule is not None and record.schedule > self.clock():
            self.note_due(record.schedule)
            return True
        name = record.connector or ""
        self.lanes[record.tenant] = name
        connector = self.connectors.get(name)
        if connector is not None and (refill or name not in self.full):
            if connector.try_submit(submit_job(record, failover)):
                self.handed[record.id] = name
                self.offered += 1
                return True
        self.refused += 1
        self.full.add(name)
        self.kick()
        return False

    @asynccontextmanager
    async def admit(self, tenant: str, count: int) -> AsyncIterator[None]:
        """Hold `tenant`'s batch of `count` messages until the connector its messages went
        to lately has room for them (see the module docstring); the room stays promised to
        the batch until the block ends (after its messages were offered)."""
        name = self.lanes.get(tenant)
        connector = self.connectors.get(name) if name is not None else None
        reserve = getattr(connector, "reserve", None)
        if reserve is None or name is None or not self.is_up(name):
            yield  # no lane yet, a connector without reservations, or not bound: no hold
            return
        promised = 0
        if name in self.full or connector.room() < count:  # type: ignore[union-attr]
            self.holds += 1
        with trio.move_on_after(HOLD_MAX) as scope:
            while name in self.full:  # older messages on disk go first: the refill pass
                self.kick()
                await self._passed.wait()
            promised = await reserve(count)
        if scope.cancelled_caught:
            self.hold_timeouts += 1
        try:
            yield
        finally:
            if promised:
                connector.release(promised)  # type: ignore[union-attr]

    def offer_job(self, connector_name: str, job: SubmitJob) -> bool:
        connector = self.connectors.get(connector_name)
        if connector is not None and connector.try_submit(job):
            self.handed[job.message_id] = connector_name
            return True
        return False

    def kick(self) -> None:
        self._wake.set()

    def note_due(self, when: float) -> None:
        if when < self._next_due:
            self._next_due = when
            self.kick()

    def backlog(self) -> int:
        """QUEUED messages on disk that no connector holds (scheduled ones included)."""
        with self.journal.read() as txn:
            queued = txn.stat(self.journal.store.by_state[MessageState.QUEUED])["entries"]
        return max(0, queued - len(self.handed) - len(self.claimed))

    # ------------------------------------------------------------------ the refill task

    async def run(self) -> None:
        """Forever: one refill pass whenever woken, when a scheduled message falls due, and
        every IDLE_PASS seconds; while a connector is full, every `_retry` seconds (backing
        off up to BLOCKED_RETRY_MAX while passes place nothing)."""
        while True:
            if self.blocked:
                delay = self._retry
            else:
                delay = min(IDLE_PASS, max(0.0, self._next_due - self.clock()))
            with trio.move_on_after(delay):
                await self._wake.wait()
            self._wake = trio.Event()
            if self.blocked:
                await trio.sleep(self._retry)  # let the connectors drain a little first
            await self.refill()

    async def refill(self) -> None:
        """Hands over due ACCEPTED and QUEUED messages, oldest first, until every connector
        is full or nothing due is left (bounded: MAX_ROUNDS pages per state)."""
        self.full = set()
        self._next_due = math.inf
        offered = self.offered
        for state in (MessageState.ACCEPTED, MessageState.QUEUED):
            after: bytes | None = None
            for _ in range(MAX_ROUNDS):
                now = self.clock()
                records, after = self._read_due(state, now, after)
                if records:
                    await self._place(records, now)
                if after is None or self.full.issuperset(self.connectors):
                    break
                await trio.lowlevel.checkpoint()
        self._find_next_due()
        self._retry = BLOCKED_RETRY if self.offered > offered else min(2 * self._retry, BLOCKED_RETRY_MAX)
        self._passed.set()
        self._passed = trio.Event()

    def _read_due(
        self, state: MessageState, now: float, after: bytes | None
    ) -> tuple[list[MessageRecord], bytes | None]:
        """Up to PAGE due records no connector holds, after index key `after`; and where to
        continue (None: the end was reached)."""
        out: list[MessageRecord] = []
        store = self.journal.store
        handed, claimed = self.handed, self.claimed
        examined = 0
        with self.journal.read() as txn:
            for key, _due, message_id in store.iter_state(txn, state, after=after, until=now):
                examined += 1
                if message_id not in handed and message_id not in claimed:
                    record = store.get_message(txn, message_id)
                    if record is not None:
                        out.append(record)
                if len(out) >= PAGE or examined >= MAX_EXAMINE:
                    return out, key
        return out, None

    async def _place(self, records: list[MessageRecord], now: float) -> None:
        expired: list[MessageRecord] = []
        reroute: list[MessageRecord] = []
        full = self.full
        for record in records:
            if record.validity is not None and record.validity <= now:
                expired.append(record)
            elif record.state is MessageState.ACCEPTED or record.connector not in self.connectors:
                reroute.append(record)
            elif record.connector not in full:
                if not self.is_up(record.connector):
                    # Unbound: messages wait here on disk, not in its memory (and a carrier that
                    # stays away hands back what it holds, so nothing would move anyway).
                    full.add(record.connector)
                    continue
                self.offer(record, None, refill=True)
        if expired and self.expire is not None:
            await self.expire(expired)
        if reroute and self.reroute is not None:
            await self.reroute(reroute)

    def _find_next_due(self) -> None:
        """The earliest QUEUED due time still in the future (a scheduled message)."""
        store = self.journal.store
        after = keys.due_prefix(self.clock()) + b"\xff"
        with self.journal.read() as txn:
            for _key, due, _id in store.iter_state(txn, MessageState.QUEUED, after=after):
                self._next_due = min(self._next_due, due)
                break
