"""Journals under load until killed; prints each step as soon as its commit has returned.

Run by test_crash.py as `python crash_worker.py JOURNAL_DIR SEED`. Lines on stdout:
    READY                      after replaying what the previous run left unfinished
    A <id>                     message accepted (PutMessage committed)
    Q|S <id>                   queued / submitted
    E <id> <carrier_id_hex>    the carrier answered with its id
    D <id> <entry_id|->        delivered (receipt owed to the tenant in the outbox)
    k <entry_id>               about to acknowledge (written before the commit)
    K <entry_id>               the tenant acknowledged the receipt
A line is written (and flushed) only after the commit it reports returned, so every line
in the output describes something the journal promised to keep.
"""

from __future__ import annotations

import itertools
import random
import sys
import time

import structlog
import trio

from smsswitch.journal import (
    AckOutbox,
    AddOutbox,
    JournalConfig,
    MessageRecord,
    MessageState,
    OutboxEntry,
    OutboxKind,
    PutMessage,
    Transition,
    iter_replay,
    open_journal,
)

WORKERS = 40
CONNECTOR = "c1"


def emit(*parts: str) -> None:
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


async def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    carrier_ids = itertools.count(rng.randrange(1 << 32) * 1000)
    config = JournalConfig(path=path, initial_map_size=1 << 20, max_map_size=1 << 30)
    async with open_journal(config) as journal:
        for item in iter_replay(journal):
            await journal.commit([Transition(item.record.id, MessageState.DELIVERED, time.time(), detail=item.action.value)])
            emit("D", item.record.id, "-")
        emit("READY")

        async def worker(n: int) -> None:
            for seq in itertools.count():
                now = time.time()
                record = MessageRecord(
                    id=journal.new_id(), tenant=f"t{n % 4}", source="ACME",
                    destination=f"+26377{n:03d}{seq % 10000:04d}", created=now,
                    payload=rng.randbytes(rng.randrange(10, 300)), registered_delivery=1,
                )  # fmt: skip
                await journal.commit([PutMessage(record)])
                emit("A", record.id)
                p = rng.random()
                if p < 0.2:
                    continue
                await journal.commit([Transition(record.id, MessageState.QUEUED, now, connector=CONNECTOR)])
                emit("Q", record.id)
                if p < 0.35:
                    continue
                await journal.commit([Transition(record.id, MessageState.SUBMITTED, now, count_attempt=True)])
                emit("S", record.id)
                if p < 0.5:
                    continue
                carrier_id = format(next(carrier_ids), "x")
                await journal.commit([Transition(record.id, MessageState.ENROUTE, now, carrier_id=carrier_id)])
                emit("E", record.id, carrier_id)
                if p < 0.65:
                    continue
                entry = OutboxEntry(
                    id=journal.new_id(), tenant=record.tenant, kind=OutboxKind.RECEIPT,
                    payload={"stat": "DELIVRD"}, created=now, msisdn=record.destination, message_id=record.id,
                )  # fmt: skip
                await journal.commit([Transition(record.id, MessageState.DELIVERED, now, on_applied=(AddOutbox(entry),))])
                emit("D", record.id, entry.id)
                if p < 0.8:
                    continue
                emit("k", entry.id)  # intent: from here the entry may be gone
                await journal.commit([AckOutbox(entry.id)])
                emit("K", entry.id)

        async with trio.open_nursery() as nursery:
            for n in range(WORKERS):
                nursery.start_soon(worker, n)


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is the protocol
    trio.run(main, sys.argv[1], int(sys.argv[2]))
