#!/usr/bin/env python3
"""What the journal writer process spends per op of one message's life, by op type.

A delivered message with a receipt costs four ops in the writer: PutMessage (accepted), a
Transition to ENROUTE with the carrier's id (its submit_sm_resp), a Transition to DELIVERED
that also adds the tenant's receipt to the outbox (the carrier's receipt), and AckOutbox (the
tenant's deliver_sm_resp). Each type runs for `--messages` messages, in write transactions of
`--batch` ops, the way the writer process takes them: msgpack wire form in, op_from_wire,
apply. One process, no daemon, fsync off unless `--sync` (the commit's fsync is one per
batch, not per op). Prints one JSON line; the machine is shared, so run it a few times.

    .venv/bin/python scripts/bench_journal_ops.py [--messages 20000] [--batch 200] [--sync]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_journal import make_record  # noqa: E402 - the same message as the accept benchmark

from smsswitch.journal import (  # noqa: E402
    AckOutbox,
    AddOutbox,
    MessageRecord,
    MessageState,
    OutboxEntry,
    OutboxKind,
    PutMessage,
    Transition,
)
from smsswitch.journal.ids import MessageIdGenerator  # noqa: E402
from smsswitch.journal.ops import op_from_wire, op_to_wire  # noqa: E402
from smsswitch.journal.store import Store, open_env  # noqa: E402


def receipt_entry(entry_id: str, record: MessageRecord, now: float) -> OutboxEntry:
    return OutboxEntry(
        id=entry_id, tenant=record.tenant, kind=OutboxKind.RECEIPT, created=now, message_id=record.id,
        msisdn=record.destination.lstrip("+"),
        payload={"id": record.id, "stat": "DELIVRD", "err": 0, "to": record.destination, "from": record.source,
                 "sub": now, "done": now, "text": "benchmark message text"},
    )  # fmt: skip


def apply_all(env: Any, store: Store, ops: list[Any], batch: int) -> float:
    """Seconds to decode and apply `ops` from their wire form, `batch` per transaction."""
    pack = msgpack.Packer(use_bin_type=True).pack
    wires = [pack(op_to_wire(op)) for op in ops]
    started = time.perf_counter()
    for i in range(0, len(wires), batch):
        decoded = [op_from_wire(msgpack.unpackb(w, raw=False, strict_map_key=False)) for w in wires[i : i + batch]]
        with env.begin(write=True) as txn:
            for op in decoded:
                op.apply(store, txn)
    return time.perf_counter() - started


def run(messages: int, batch: int, sync: bool, directory: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=directory, prefix="bench_journal_ops_") as tmp:
        env = open_env(tmp, map_size=1 << 30, sync=sync)
        store = Store(env)
        ids = MessageIdGenerator()
        now = time.time()
        payload = b"x" * 160
        records = [make_record(ids.next(), payload, n) for n in range(messages)]
        entries = [receipt_entry(ids.next(), r, now) for r in records]
        life = {
            "put_message": [PutMessage(r) for r in records],
            "transition_enroute_with_carrier_id": [
                Transition(r.id, MessageState.ENROUTE, now, connector="sim", carrier_id=f"{n:08x}")
                for n, r in enumerate(records)
            ],
            "transition_delivered_with_receipt": [
                Transition(r.id, MessageState.DELIVERED, now, detail="receipt DELIVRD", on_applied=(AddOutbox(e),))
                for r, e in zip(records, entries)
            ],
            "ack_outbox": [AckOutbox(e.id) for e in entries],
        }
        cost = {name: round(1e6 * apply_all(env, store, ops, batch) / messages, 2) for name, ops in life.items()}
        env.close()
    return {
        "us_per_op": cost,
        "us_per_message": round(sum(cost.values()), 2),
        "messages": messages,
        "batch": batch,
        "fsync": sync,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200, help="ops per write transaction (the peak's commits)")
    parser.add_argument("--sync", action="store_true", help="fsync every transaction, as the daemon does")
    parser.add_argument("--dir", default=None, help="where to put the journal (default: a temp dir)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.messages, args.batch, args.sync, args.dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
