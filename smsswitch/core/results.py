"""What connectors report about our submits: on the wire, accepted, rejected, given up, expired.

`submits_sent` must not wait for the disk, so the QUEUED → SUBMITTED marks go to a bounded
buffer that one task commits in batches (a mark that cannot be buffered is only a lost
"sent" note: the message is still resent after a crash, just counted as queued). A mark
lingers there for SENT_LINGER first: when the carrier answers within it (the common case),
the mark is dropped and its outcome's transition counts the attempt instead, so the
SUBMITTED write leaves the hot path; slow carriers' messages still get their note. Final
outcomes are committed before `submit_results` returns, one commit per batch: the carrier
id must be durable before a receipt for it can be matched.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
import trio

from smsswitch.carrier.api import SubmitJob, SubmitOutcome, SubmitResult
from smsswitch.core.feeder import Feeder
from smsswitch.core.jobs import submit_job
from smsswitch.core.owed import LIVE_STATES, Owed
from smsswitch.core.stats import SwitchStats
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import Transition
from smsswitch.journal.records import MessageRecord, MessageState
from smsswitch.routing.decisions import MtDecision

log = structlog.get_logger("smsswitch.core")

#: Most "sent" marks waiting for their commit.
SENT_BUFFER = 50_000
#: Seconds a "sent" mark waits before it is written. Only a crash or restart reads it (the
#: replayed_resent count; QUEUED is resent all the same), and most carriers answer well
#: within this, so most marks are dropped unwritten.
SENT_LINGER = 0.5
_SENT_FROM = frozenset({MessageState.QUEUED})
_ACCEPTED_FROM = frozenset({MessageState.ACCEPTED, MessageState.QUEUED, MessageState.SUBMITTED})
#: Attempts at committing a batch of results before giving up on it (disk trouble).
COMMIT_ATTEMPTS = 5


class CarrierResults:
    def __init__(
        self,
        journal: Journal,
        feeder: Feeder,
        owed: Owed,
        stats: SwitchStats,
        route_record: Callable[[MessageRecord], MtDecision],
        notify: Callable[[str], None],
        apply_parked: Callable[[str, list[str]], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.time,
        failover_on: Mapping[str, frozenset[int]] | None = None,
    ) -> None:
        self.journal = journal
        self.feeder = feeder
        self.owed = owed
        self.stats = stats
        self.route_record = route_record
        self.notify = notify
        self.apply_parked = apply_parked
        self.clock = clock
        #: Per connector, the permanent refusals that fail over instead of ending REJECTED.
        self.failover_on: Mapping[str, frozenset[int]] = failover_on or {}
        #: Marks not written yet: message id -> when it went on the wire (insertion order).
        self._sent: dict[str, float] = {}
        #: (trio deadline, ids) per submits_sent call, oldest first: when to write which marks.
        self._sent_due: deque[tuple[float, list[str]]] = deque()
        self._sent_due_ids = 0
        self._sent_wake = trio.Event()
        self.sent_unrecorded = 0

    # ------------------------------------------------------------------ on the wire

    def submits_sent(self, jobs: list[SubmitJob]) -> None:
        """Buffer the jobs' "sent" marks (never waits: the writer task commits them)."""
        if self._sent_due_ids + len(jobs) > SENT_BUFFER:
            self.sent_unrecorded += len(jobs)
            return
        ids = [job.message_id for job in jobs]
        self._sent.update(dict.fromkeys(ids, self.clock()))
        self._sent_due.append((trio.current_time() + SENT_LINGER, ids))
        self._sent_due_ids += len(ids)
        self._sent_wake.set()

    async def run_sent_writer(self) -> None:
        """Write each mark SENT_LINGER after its send, unless its outcome came first."""
        while True:
            if not self._sent_due:
                await self._sent_wake.wait()
                self._sent_wake = trio.Event()
                continue
            await trio.sleep_until(self._sent_due[0][0])
            await self.flush_sent(until=trio.current_time())

    async def flush_sent(self, until: float | None = None) -> None:
        """Commit the buffered "sent" marks due by `until` (trio time), all when None (shutdown)."""
        due, sent = self._sent_due, self._sent
        ops: list[Transition] = []
        while due and (until is None or due[0][0] <= until):
            _deadline, ids = due.popleft()
            self._sent_due_ids -= len(ids)
            for mid in ids:
                at = sent.pop(mid, None)
                if at is not None:  # None: its outcome came first and counted the attempt
                    ops.append(Transition(mid, MessageState.SUBMITTED, at, count_attempt=True, expect=_SENT_FROM))
        if not ops:
            return
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            self.sent_unrecorded += len(ops)
            log.warning("carrier.sent_marks_lost", count=len(ops), error=str(exc))

    @property
    def sent_pending(self) -> int:
        return len(self._sent)

    def _outcome_counts(self, message_id: str) -> bool:
        """Drop the message's unwritten "sent" mark; True when its outcome must count the attempt."""
        return self._sent.pop(message_id, None) is not None

    # ------------------------------------------------------------------ outcomes

    async def submit_results(self, connector: str, results: list[SubmitResult]) -> None:
        now = self.clock()
        ops: list[Any] = []
        tenants: set[str] = set()
        accepted_ids: list[str] = []
        failovers: list[tuple[str, SubmitJob]] = []
        failover_on = self.failover_on.get(connector, frozenset())
        needs_record = [r.job.message_id for r in results if r.outcome is not SubmitOutcome.ACCEPTED]
        records = self._records(needs_record) if needs_record else {}
        stats = self.stats
        counts = self._outcome_counts
        for result in results:
            job = result.job
            stats.carrier_results[(connector, result.outcome.value)] += 1
            if result.latency is not None:
                stats.carrier_latency.observe(result.latency)
            counted = counts(job.message_id)
            if result.outcome is SubmitOutcome.ACCEPTED and result.carrier_message_id:
                ops.append(
                    Transition(job.message_id, MessageState.ENROUTE, now, connector=connector,
                               carrier_id=result.carrier_message_id, expect=_ACCEPTED_FROM, count_attempt=counted)
                )  # fmt: skip
                accepted_ids.append(result.carrier_message_id)
                continue
            record = records.get(job.message_id)
            if record is None or record.state.terminal:
                continue
            first_op = len(ops)
            if result.outcome is SubmitOutcome.ACCEPTED:  # ESME_ROK without an id: cannot correlate
                self._end(record, MessageState.UNKNOWN, now, 0, "carrier gave no message id", ops, tenants)
            elif result.outcome is SubmitOutcome.EXPIRED:
                self._end(record, MessageState.EXPIRED, now, 0, f"validity passed at {connector}", ops, tenants)
            else:
                rejected = result.outcome is SubmitOutcome.REJECTED
                # A refusal fails over only when the connector lists its status (failover_on).
                refused_for_good = rejected and result.command_status not in failover_on
                failover = None if refused_for_good else self._failover(record, job, connector)
                if failover is None and result.outcome is SubmitOutcome.UNAVAILABLE:
                    # No other carrier on its route: wait on disk (QUEUED) for this one; the
                    # refill pass hands it back once the connector is bound again.
                    ops.append(Transition(record.id, MessageState.QUEUED, now, connector=connector,
                                          expect=LIVE_STATES, detail=f"waiting: {result.detail}"))  # fmt: skip
                    self.feeder.full.add(connector)
                elif failover is not None:
                    next_name, rest = failover
                    ops.append(
                        Transition(record.id, MessageState.QUEUED, now, connector=next_name, expect=LIVE_STATES,
                                   detail=f"failover from {connector}: {result.detail}")
                    )  # fmt: skip
                    failovers.append((next_name, submit_job(record, rest)))
                    stats.failovers += 1
                elif rejected:  # refused for good, or nowhere else to go
                    self._end(record, MessageState.REJECTED, now, result.command_status,
                              f"rejected by {connector}: {result.detail}", ops, tenants)  # fmt: skip
                else:
                    self._end(record, MessageState.UNDELIVERABLE, now, result.command_status,
                              f"gave up at {connector}: {result.detail}", ops, tenants,
                              dead_letter=f"gave up: {result.detail or 'no carrier took it'}")  # fmt: skip
            if counted and len(ops) > first_op:
                ops[first_op].count_attempt = True  # the Transition this outcome just added
        if ops and not await self._commit(ops, connector):
            for result in results:
                self.feeder.handed.pop(result.job.message_id, None)
            return
        handed = self.feeder.handed
        for result in results:
            handed.pop(result.job.message_id, None)
        for next_name, job in failovers:
            if not self.feeder.offer_job(next_name, job):
                self.feeder.full.add(next_name)
                self.feeder.kick()
        for name in tenants:
            self.notify(name)
        if accepted_ids:
            await self.apply_parked(connector, accepted_ids)

    def _records(self, ids: list[str]) -> dict[str, MessageRecord]:
        out: dict[str, MessageRecord] = {}
        store = self.journal.store
        with self.journal.read() as txn:
            for message_id in ids:
                record = store.get_message(txn, message_id)
                if record is not None:
                    out[message_id] = record
        return out

    def _end(
        self, record: MessageRecord, state: MessageState, now: float, error: int, detail: str,
        ops: list, tenants: set, dead_letter: str | None = None,
    ) -> None:
        op, entries = self.owed.finish(record, state, now, error=error, detail=detail, dead_letter=dead_letter)
        ops.append(op)
        if entries:
            tenants.add(record.tenant)
        self.stats.final_states[state.name] += 1

    def _failover(self, record: MessageRecord, job: SubmitJob, failed: str) -> tuple[str, tuple[str, ...]] | None:
        """The next connector of the message's route, or None. The job's context holds what
        is left of the decision the message got on accept (hot reload does not change it);
        after a restart it is gone, and the current table is asked instead."""
        if isinstance(job.context, tuple):
            candidates = job.context
        else:
            decision = self.route_record(record)
            tried = {failed, *(c for c, _ in record.previous_carriers)}
            candidates = tuple(c for c in decision.connectors if c not in tried) if decision.routed else ()
        name, rest = self.feeder.choose(candidates)
        return None if name is None else (name, rest)

    async def _commit(self, ops: list, connector: str) -> bool:
        delay = 0.05
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                await self.journal.commit(ops)
                return True
            except JournalError as exc:
                self.stats.journal_errors += 1
                if attempt == COMMIT_ATTEMPTS - 1:
                    log.error("carrier.results_not_journalled", connector=connector, ops=len(ops), error=str(exc))
                    return False
                await trio.sleep(delay)
                delay *= 4
        return False

