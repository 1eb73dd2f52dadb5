"""What a (re)starting switch must pick up again, read from the journal.

ACCEPTED messages go to routing, QUEUED ones back to their connector's queue, SUBMITTED ones
(on the wire when we stopped, answer unknown) are sent again - at-least-once, and counted
so the daemon can expose and log the number. ENROUTE messages only wait for receipts (their
count is reported, nothing is yielded). Outbox entries wait for their tenant to bind
(`Journal.outbox_for`); the plan says how many each tenant has.

Replay only reads, so running it twice, or crashing half-way, changes nothing: each
unfinished message is yielded exactly once per scan, even if the switch already moves
messages between states while the scan runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

import attrs

from smsswitch.journal.journal import Journal
from smsswitch.journal.records import MessageRecord, MessageState

#: Messages read per read transaction (short transactions keep LMDB's free pages reusable).
SCAN_BATCH = 1000


class ReplayAction(enum.Enum):
    ROUTE = "route"  # ACCEPTED: route it, then queue it
    QUEUE = "queue"  # QUEUED: back to its connector's queue (record.connector)
    RESEND = "resend"  # SUBMITTED: send again (at-least-once window)


_ACTIONS = (
    (MessageState.ACCEPTED, ReplayAction.ROUTE),
    (MessageState.QUEUED, ReplayAction.QUEUE),
    (MessageState.SUBMITTED, ReplayAction.RESEND),
)


@attrs.frozen
class ReplayItem:
    action: ReplayAction
    record: MessageRecord


@attrs.frozen
class ReplaySummary:
    route: int
    queue: int
    resend: int
    awaiting_receipt: int
    outbox_by_tenant: dict[str, int] = attrs.field(hash=False)

    @property
    def outbox(self) -> int:
        return sum(self.outbox_by_tenant.values())


def iter_replay(journal: Journal, *, batch: int = SCAN_BATCH) -> Iterator[ReplayItem]:
    """Each unfinished message once, ACCEPTED then QUEUED then SUBMITTED, earliest due first
    within a state. Safe to consume slowly: no read transaction stays open between batches."""
    seen: set[str] = set()
    for state, action in _ACTIONS:
        after: bytes | None = None
        while True:
            chunk: list[ReplayItem] = []
            with journal.read() as txn:
                store = journal.store
                for key, _due, message_id in store.iter_state(txn, state, after=after):
                    after = key
                    if message_id in seen:
                        continue
                    record = store.get_message(txn, message_id)
                    if record is None:
                        continue
                    seen.add(message_id)
                    chunk.append(ReplayItem(action, record))
                    if len(chunk) >= batch:
                        break
            yield from chunk
            if len(chunk) < batch:
                break


def summarize(journal: Journal) -> ReplaySummary:
    """Counts for the start-up log line and metrics (O(1) per state, O(outbox) for tenants)."""
    with journal.read() as txn:
        counts = journal.store.counts(txn)
        tenants = journal.store.outbox_counts(txn)
    return ReplaySummary(
        route=counts["state.accepted"],
        queue=counts["state.queued"],
        resend=counts["state.submitted"],
        awaiting_receipt=counts["state.enroute"],
        outbox_by_tenant=tenants,
    )
