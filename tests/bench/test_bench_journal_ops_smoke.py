"""scripts/bench_journal_ops.py applies a message's whole life and reports each op type's
cost (no timing is asserted), and the ops really did what they say in its journal."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_journal_ops  # noqa: E402


def test_reports_each_op_of_a_messages_life() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_journal_ops.py"), "--messages", "300", "--batch", "50"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    ops = out["us_per_op"]
    assert set(ops) == {"put_message", "transition_enroute_with_carrier_id", "transition_delivered_with_receipt",
                        "ack_outbox"}  # fmt: skip
    assert all(cost > 0 for cost in ops.values())
    assert out["us_per_message"] == round(sum(ops.values()), 2)
    assert out["messages"] == 300 and out["fsync"] is False


def test_the_ops_it_times_take_effect(monkeypatch) -> None:  # noqa: ANN001
    # Each op type is timed on the journal the previous ones built: a Transition that found
    # no message (or an AckOutbox no entry) would be timed doing nothing. Look after each.
    states = bench_journal_ops.MessageState
    after: list[tuple[int, int, int, int]] = []  # messages, outbox, ENROUTE, DELIVERED
    real = bench_journal_ops.apply_all

    def counting(env, store, ops, batch):  # noqa: ANN001, ANN202
        seconds = real(env, store, ops, batch)
        with env.begin() as txn:
            after.append((
                txn.stat(store.messages)["entries"], txn.stat(store.outbox)["entries"],
                txn.stat(store.by_state[states.ENROUTE])["entries"],
                txn.stat(store.by_state[states.DELIVERED])["entries"],
            ))  # fmt: skip
        return seconds

    monkeypatch.setattr(bench_journal_ops, "apply_all", counting)
    bench_journal_ops.run(40, 10, False, None)
    assert after == [
        (40, 0, 0, 0),  # put
        (40, 0, 40, 0),  # every message ENROUTE
        (40, 40, 0, 40),  # every message DELIVERED, its receipt owed
        (40, 0, 0, 40),  # every receipt acknowledged
    ]
