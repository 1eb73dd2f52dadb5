"""scripts/bench_sustained.py searches and reports (tiny runs; no throughput is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

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
