"""kill -9 under load: every acknowledged step survives, replay yields each unfinished
message exactly once, and the indexes stay consistent. Real subprocesses, real LMDB."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from smsswitch.harness import child_pids
from smsswitch.journal import Journal, MessageState, ReplayAction, iter_replay
from tests.journal.crash_worker import WORKERS
from tests.journal.procs import wait_gone

WORKER = Path(__file__).with_name("crash_worker.py")
ROUNDS = 4
ORDER = {
    MessageState.ACCEPTED: 0,
    MessageState.QUEUED: 1,
    MessageState.SUBMITTED: 2,
    MessageState.ENROUTE: 3,
    MessageState.DELIVERED: 4,
}
LEVEL = {"A": 0, "Q": 1, "S": 2, "E": 3, "D": 4}
ACTION = {MessageState.ACCEPTED: ReplayAction.ROUTE, MessageState.QUEUED: ReplayAction.QUEUE, MessageState.SUBMITTED: ReplayAction.RESEND}


def run_and_kill(path: Path, out: Path, seed: int, rng: random.Random) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    with out.open("w") as stdout:
        proc = subprocess.Popen([sys.executable, str(WORKER), str(path), str(seed)], stdout=stdout, env=env)
    try:
        deadline = time.monotonic() + 30
        while "READY" not in out.read_text():
            assert proc.poll() is None, f"worker exited early with {proc.returncode}"
            assert time.monotonic() < deadline, "worker never became ready"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.1, 0.7))
        assert proc.poll() is None, f"worker died by itself with {proc.returncode}"
    finally:
        writers = child_pids(proc.pid)  # the journal's writer process
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # The orphaned writer finishes the batch it was committing and exits without taking
        # another (writer_child.py): only then is the journal what the next opener will see.
        assert wait_gone(writers), f"the killed worker's writer {writers} is still running"


def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = int(os.environ.get("JOURNAL_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    path = tmp_path / "journal"
    acked_level: dict[str, int] = {}
    carrier_of: dict[str, str] = {}
    owed: set[str] = set()  # receipts the journal must still hold
    acked_entries: set[str] = set()
    for round_no in range(ROUNDS):
        out = tmp_path / f"round{round_no}.out"
        run_and_kill(path, out, seed + round_no, rng)
        for line in out.read_text().splitlines(keepends=True):
            parts = line.split()
            if not line.endswith("\n") or not parts or parts[0] == "READY":
                continue  # a line cut by the kill is no promise
            kind = parts[0]
            if kind == "k":
                owed.discard(parts[1])  # its ack may have committed without its "K" line
                continue
            if kind == "K":
                owed.discard(parts[1])
                acked_entries.add(parts[1])
                continue
            acked_level[parts[1]] = max(acked_level.get(parts[1], 0), LEVEL[kind])
            if kind == "E":
                carrier_of[parts[1]] = parts[2]
            if kind == "D" and len(parts) == 3 and parts[2] != "-":
                owed.add(parts[2])
        check_journal(path, acked_level, carrier_of, owed, acked_entries, seed, round_no)
    assert len(acked_level) > 100, "the worker journalled too little to mean anything"


def check_journal(path, acked_level, carrier_of, owed, acked_entries, seed, round_no) -> None:
    why = f"(seed {seed}, round {round_no})"
    journal = Journal.open_readonly(path)
    try:
        with journal.read() as txn:
            store = journal.store
            for message_id, level in acked_level.items():
                record = store.get_message(txn, message_id)
                assert record is not None, f"acknowledged {message_id} lost {why}"
                assert ORDER[record.state] >= level, f"{message_id} went back to {record.state.name} {why}"
            for message_id, carrier_id in carrier_of.items():
                decimal = str(int(carrier_id, 16))
                assert store.find_correlation(txn, "c1", decimal) == message_id, f"correlation lost {why}"
            for entry_id in owed:
                assert store.get_outbox(txn, entry_id) is not None, f"owed receipt {entry_id} lost {why}"
            for entry_id in acked_entries:
                assert store.get_outbox(txn, entry_id) is None, f"acknowledged receipt {entry_id} came back {why}"
            unfinished = {}
            unacknowledged = 0
            for key, raw in txn.cursor(db=store.messages):
                record = store.get_message(txn, key.decode())
                if record.state in ACTION:
                    unfinished[record.id] = ACTION[record.state]
                if record.id not in acked_level:
                    unacknowledged += 1
            # Each worker has at most one commit in flight when killed: nothing multiplied.
            assert unacknowledged <= WORKERS * (round_no + 1), f"{unacknowledged} unacknowledged records {why}"
        items = [(i.record.id, i.action) for i in iter_replay(journal, batch=50)]
        assert len(items) == len({i for i, _ in items}), f"replay yielded a message twice {why}"
        assert dict(items) == unfinished, f"replay differs from the unfinished set {why}"
        assert items == [(i.record.id, i.action) for i in iter_replay(journal)], f"replay not repeatable {why}"
        assert journal.check() == [], f"indexes inconsistent after kill {why}"
    finally:
        journal.close()
