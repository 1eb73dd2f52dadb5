"""scripts/bench_sustained.py searches and reports (tiny runs; no throughput is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_searches_and_reports_the_rate_it_kept_up_with() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_sustained.py"), "--low", "20", "--high", "60",
         "--steps", "1", "--duration", "1", "--", "--binds", "1", "--window", "5", "--receipt-delay", "0.01",
         "--drain-timeout", "30"],
        capture_output=True, text=True, timeout=150, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    (probe,) = out["probes"]
    assert probe["rate"] == 40
    assert out["sustained_per_s"] == (40 if probe["keeps_up"] else 20)
    at_80 = out["at_80_percent"]
    assert at_80["rate"] == round(0.8 * out["sustained_per_s"])
    assert at_80["lost"] == 0 and at_80["receipt_completeness"] == 1.0
    assert at_80["params"]["rate"] == at_80["rate"]


def test_confirm_runs_the_rate_found_longer_and_steps_down_while_it_falls_behind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The search's runs are scripted: 15 s probes keep up to 30/s, long runs only to 26/s.
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_sustained

    calls: list[tuple[float, float]] = []

    def fake_run_once(_root, args: list[str]) -> dict:
        duration, rate = float(args[args.index("--duration") + 1]), float(args[args.index("--rate") + 1])
        calls.append((rate, duration))
        limit = 30 if duration <= 15 else 26
        return {"receipt_completeness": 1.0, "lost": 0, "accepted_per_s": rate,
                "submit_to_receipt_p99_ms": 100 if rate <= limit else 5000, "submit_resp_p99_ms": 9.0}

    monkeypatch.setattr(bench_sustained, "run_once", fake_run_once)
    assert bench_sustained.main(["--low", "20", "--high", "60", "--steps", "2", "--duration", "15",
                                 "--confirm", "300", "--confirm-tries", "6"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [p["rate"] for p in out["probes"]] == [40, 30]  # bisection: 30 keeps up in 15 s
    # 30 falls behind over 300 s; 5 % steps down (1.5/s) until 25.5 holds
    assert [(c["rate"], c["keeps_up"]) for c in out["confirms"]] == [(30, False), (28, False), (27, False), (26, True)]
    assert out["confirmed"] is True and out["sustained_per_s"] == 26
    assert calls[-1] == (20.0, 15.0)  # the 80 % run is of the confirmed rate (25.5 -> 20.4 -> "20")
