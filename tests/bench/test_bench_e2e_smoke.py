"""scripts/bench_e2e.py end to end with a tiny load, so the benchmark cannot rot.

No throughput is asserted (benchmarks are not tests); only that the run completes, every
accepted message got exactly one receipt, and the JSON line carries what the README quotes.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)

KEYS = {
    "accepted_per_s", "submit_resp_p50_ms", "submit_resp_p99_ms", "receipts_per_s",
    "receipt_completeness", "submit_to_receipt_p99_ms", "lost", "duplicates", "daemon_cpu_s",
    "daemon_rss_mb", "writer_cpu_s", "all_cpu_us_per_msg", "io_full_stall_ms", "cpu_some_stall_ms", "params",
}  # fmt: skip


def run_bench(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_e2e.py"), *args],
        capture_output=True, text=True, timeout=150, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout
    return json.loads(lines[0])


def test_tiny_mixed_run_counts_every_message() -> None:
    out = run_bench(
        "--messages", "150", "--binds", "2", "--window", "10", "--mix", "gsm=1,ucs2=1,concat3=1",
        "--receipt-delay", "0.01", "--carrier-sessions", "1", "--drain-timeout", "30",
    )  # fmt: skip
    assert KEYS <= out.keys()
    assert out["accepted"] >= 150 and out["refused"] == {}
    assert out["receipt_completeness"] == 1.0
    assert out["lost"] == 0 and out["duplicates"] == 0 and out["unknown_receipts"] == 0
    assert out["daemon_exit"] == 0
    assert out["writer_processes"] == 1  # the journal writer process is found and its CPU counted
    assert out["params"]["mix"] == {"gsm": 1.0, "ucs2": 1.0, "concat3": 1.0}


def test_rate_and_carrier_delay_with_two_client_processes() -> None:
    out = run_bench(
        "--duration", "1.5", "--rate", "200", "--binds", "2", "--clients", "2", "--window", "20",
        "--carrier-rtt-ms", "20", "--receipt-delay", "0.05", "--drain-timeout", "30", "--rss-every", "0.2",
    )  # fmt: skip
    assert out["accepted"] > 0 and out["lost"] == 0 and out["duplicates"] == 0
    assert out["params"]["clients"] == 2 and out["params"]["carrier_rtt_ms"] == 20.0
    # The window target's figures: the connector's steady rate against 2 sessions x 50 / 20 ms,
    # the RTT the daemon saw, and the simulator's own share of it.
    assert out["carrier_window_rtt_bound_per_s"] == 5000
    assert out["carrier_steady_per_s"] > 0
    assert 0 < out["carrier_window_utilisation"] < 1
    assert out["journal"]["carrier_response_ms_avg"] >= 20
    assert out["simulator_answer_late_ms_avg"] >= 0


def test_a_stuck_bind_loses_nothing_and_the_drain_waits_for_its_receipts() -> None:
    # Bind 0 stops reading: its last window of submits goes unanswered (the switch accepted
    # them; their receipts reach bind 1 as ids no client knows), and the receipts the switch
    # had written to bind 0 reach bind 1 after the deliver timeout. The drain used to end once
    # known plus unknown receipts added up to the accepted count, calling 7 of 244 "lost".
    out = run_bench(
        "--duration", "2", "--rate", "200", "--binds", "2", "--window", "10", "--stuck-bind-after", "0.5",
        "--receipt-delay", "0.01", "--deliver-timeout", "2", "--drain-timeout", "60",
    )  # fmt: skip
    assert out["lost"] == 0 and out["receipt_completeness"] == 1.0 and out["duplicates"] == 0
    assert 0 < out["unknown_receipts"] <= 10  # at most the stuck bind's window


def test_pair_runs_the_other_revisions_daemon() -> None:
    # 0ec2a09 is the last revision whose journal writer was a thread: its runs show no writer
    # process, this tree's one, so each side really ran its own daemon.
    old = "0ec2a09"
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{old}^{{commit}}"], capture_output=True).returncode:
        pytest.skip(f"{old} is not in this checkout's history")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_pair.py"), old, "--pairs", "1", "--",
         "--messages", "100", "--binds", "2", "--window", "10", "--receipt-delay", "0.01", "--drain-timeout", "30"],
        capture_output=True, text=True, timeout=150, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    (pair,) = out["pairs"]
    assert pair["rev"]["writer_processes"] == 0 and pair["this"]["writer_processes"] == 1
    assert pair["rev"]["lost"] == 0 and pair["this"]["lost"] == 0
    assert out["summary"]["end_to_end_per_s"]["median_ratio"] is not None
    worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout
    assert "smsswitch-pair-" not in worktrees  # removed again


@pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2, reason="--pin needs two CPUs")
def test_pin_gives_the_daemon_its_cpus_config(tmp_path: Path) -> None:
    keep = tmp_path / "run"
    out = run_bench(
        "--messages", "100", "--binds", "1", "--window", "10", "--receipt-delay", "0.01",
        "--carrier-sessions", "1", "--pin", "--keep", str(keep),
    )  # fmt: skip
    assert out["lost"] == 0 and out["receipt_completeness"] == 1.0 and out["params"]["pinned"]
    events = [json.loads(line) for line in (keep / "daemon.log").read_text().splitlines() if line.startswith("{")]
    (placed,) = [e for e in events if e["event"] == "cpu_affinity"]
    assert len(placed["main"]) == 1 and placed["main"][0] not in placed["journal_writer"]
