#!/usr/bin/env python3
"""Durable accepts per second: group commit vs one transaction per message (fsync on).

Group commit: `--concurrency` trio tasks, each like a tenant's submit handler, build one
message record and `await journal.commit([PutMessage(record)])` (the call returns when the
message is in an fsync'd transaction), over and over until `--messages` are journalled.
Latency is measured from the commit call to its return (accept to durable).
Per message: one thread, one write transaction and one fsync per message.

Prints one JSON line. The machine is shared: run it a few times (`--repeat`), the median
run is reported.

    .venv/bin/python scripts/bench_journal.py [--messages 100000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smsswitch.daemon import GIL_SWITCH_INTERVAL  # noqa: E402
from smsswitch.journal import JournalConfig, MessageRecord, PutMessage, open_journal  # noqa: E402
from smsswitch.journal.ids import MessageIdGenerator  # noqa: E402
from smsswitch.journal.store import Store, open_env  # noqa: E402


def make_record(message_id: str, payload: bytes, n: int) -> MessageRecord:
    return MessageRecord(
        id=message_id,
        tenant=f"tenant{n % 8}",
        source="ACME",
        destination=f"+26377{n % 10_000_000:07d}",
        created=time.time(),
        payload=payload,
        registered_delivery=1,
        dest_ton=1,
        dest_npi=1,
    )


async def group_commit_run(
    path: Path, messages: int, concurrency: int, payload: bytes, linger: float, max_batch_ops: int
) -> dict:
    config = JournalConfig(
        path=path,
        initial_map_size=256 << 20,
        linger=linger,
        max_pending=max(10_000, concurrency),
        max_batch_ops=max_batch_ops,
    )
    latencies: list[float] = []
    async with open_journal(config) as journal:
        per_task = messages // concurrency

        async def tenant_submits(task: int) -> None:
            perf = time.perf_counter
            for i in range(per_task):
                record = make_record(journal.new_id(), payload, task * per_task + i)
                started = perf()
                await journal.commit([PutMessage(record)])
                latencies.append(perf() - started)

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for task in range(concurrency):
                nursery.start_soon(tenant_submits, task)
        elapsed = time.perf_counter() - started
        stats = journal.writer_stats()
    latencies.sort()
    done = len(latencies)
    return {
        "accepts_per_s": done / elapsed,
        "p50_ms": latencies[done // 2] * 1000,
        "p99_ms": latencies[min(done - 1, int(done * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "mean_batch": stats["ops_committed"] / max(1, stats["commits"]),
        "messages": done,
    }


def per_message_run(path: Path, seconds: float, payload: bytes) -> float:
    env = open_env(path, map_size=256 << 20, sync=True)
    store = Store(env)
    ids = MessageIdGenerator()
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        with env.begin(write=True) as txn:
            store.put_message(txn, make_record(ids.next(), payload, done))
        done += 1
    elapsed = time.perf_counter() - started
    env.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=100, help="concurrent submitting tasks")
    parser.add_argument("--payload", type=int, default=140, help="short_message bytes")
    parser.add_argument("--linger", type=float, default=0.0, help="writer linger after idle (s)")
    parser.add_argument("--max-batch-ops", type=int, default=2000, help="most ops per transaction")
    parser.add_argument("--per-message-seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where to put the journals (default: a temp dir)")
    args = parser.parse_args()
    payload = os.urandom(args.payload)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)  # as the daemon runs the journal

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench_journal_") as tmp:
        runs = [
            trio.run(
                group_commit_run,
                Path(tmp) / f"group{n}",
                args.messages,
                args.concurrency,
                payload,
                args.linger,
                args.max_batch_ops,
            )
            for n in range(args.repeat)
        ]
        per_message = statistics.median(
            per_message_run(Path(tmp) / f"single{n}", args.per_message_seconds, payload) for n in range(args.repeat)
        )
    runs.sort(key=lambda r: r["accepts_per_s"])
    median = runs[len(runs) // 2]
    print(
        json.dumps(
            {
                "group_commit_accepts_per_s": round(median["accepts_per_s"]),
                "group_commit_p50_ms": round(median["p50_ms"], 2),
                "group_commit_p99_ms": round(median["p99_ms"], 2),
                "group_commit_max_ms": round(median["max_ms"], 2),
                "group_commit_mean_batch": round(median["mean_batch"], 1),
                "per_message_accepts_per_s": round(per_message),
                "group_commit_runs_accepts_per_s": [round(r["accepts_per_s"]) for r in runs],
                "cpu_count": os.cpu_count(),
                "messages": median["messages"],
                "concurrency": args.concurrency,
                "payload_bytes": args.payload,
                "linger_s": args.linger,
                "max_batch_ops": args.max_batch_ops,
                "fsync": True,
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
