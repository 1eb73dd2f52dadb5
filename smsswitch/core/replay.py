"""Picking up after a restart: what was unfinished goes back to work, each message once.

SUBMITTED messages (on the wire when we stopped, answer unknown) are moved back to QUEUED
in batches of one commit each, so the feeder sends them again (at-least-once: counted and
logged once). ACCEPTED/QUEUED ones need nothing: the feeder's first refill pass finds
them. Parked carrier receipts are reloaded into memory; the outbox waits on disk for its
tenants' binds. Crashing half-way is harmless: a second replay finds the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import structlog

from smsswitch.core.owed import PARKED_TENANT
from smsswitch.core.parked import ParkedReceipt, ParkedReceipts
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import Transition
from smsswitch.journal.records import MessageState

log = structlog.get_logger("smsswitch.core")

BATCH = 1000
_FROM_SUBMITTED = frozenset({MessageState.SUBMITTED})


@attrs.frozen
class ReplayReport:
    resent: int
    queued: int
    awaiting_receipt: int
    outbox: int
    parked: int


async def replay(journal: Journal, parked: ParkedReceipts, *, clock: Callable[[], float] = time.time) -> ReplayReport:
    resent = 0
    store = journal.store
    while True:
        with journal.read() as txn:
            ids = [mid for _k, _d, mid in _take(store.iter_state(txn, MessageState.SUBMITTED), BATCH)]
        if not ids:
            break
        now = clock()
        results = await journal.commit(
            [Transition(mid, MessageState.QUEUED, now, detail="replay: resend after restart", expect=_FROM_SUBMITTED)
             for mid in ids]
        )  # fmt: skip
        moved = sum(1 for r in results if r)
        resent += moved
        if not moved:  # cannot happen for a sound journal; never loop on one that is not
            break
    loaded = 0
    with journal.read() as txn:
        for entry in store.iter_outbox(txn, PARKED_TENANT):
            if parked.full:
                break
            parked.add(ParkedReceipt.from_entry(entry))
            loaded += 1
        counts = store.counts(txn)
    report = ReplayReport(
        resent=resent,
        queued=counts["state.queued"] + counts["state.accepted"],
        awaiting_receipt=counts["state.enroute"],
        outbox=counts["outbox"] - loaded,
        parked=loaded,
    )
    if resent or report.queued or report.outbox or loaded:
        log.info("switch.replay", **attrs.asdict(report))
    return report


def _take(iterable, n):  # noqa: ANN001, ANN202
    for i, item in enumerate(iterable):
        if i >= n:
            return
        yield item
