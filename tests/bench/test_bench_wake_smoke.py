"""scripts/bench_wake.py runs and reports every sleep it measures (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reports_the_work_after_each_sleep() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_wake.py"), "--rounds", "5"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["rounds"] == 5
    for key in ("after_0ms", "after_0.2ms", "after_1ms", "after_5ms"):
        assert out[key]["p50_us"] > 0 and out[key]["p90_us"] >= out[key]["p50_us"]
    assert out["after_0ms"]["ratio"] == 1.0
