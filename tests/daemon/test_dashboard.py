"""The shipped Grafana dashboard is current and queries only metrics the daemon exports."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from smsswitch.client import connect
from smsswitch.harness import DaemonProcess, write_config

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana-dashboard.json"


def queried_metrics() -> set[str]:
    names: set[str] = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"smsswitch_[a-z_]+", target["expr"]))
    return names


def test_dashboard_is_regenerated_from_the_script(tmp_path: Path) -> None:
    before = DASHBOARD.read_text()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_dashboard.py")], check=True, timeout=60, capture_output=True)
    assert DASHBOARD.read_text() == before, "run scripts/make_dashboard.py and commit the result"


@pytest.mark.timeout(120)
def test_every_dashboard_metric_is_exported(tmp_path: Path) -> None:
    with DaemonProcess(write_config(tmp_path)) as daemon:
        daemon.start()

        async def one_message() -> None:
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass") as client:
                await client.submit("+263771234567", "hi", source="DEMO")
                assert await client.next_delivery(20) is not None

        trio.run(one_message)
        text = daemon.metrics()
        # Families with no samples yet (e.g. binds when nobody is bound) still declare a TYPE.
        exported = set(re.findall(r"^(smsswitch_[a-z_]+)", text, re.MULTILINE))
        exported |= set(re.findall(r"^# TYPE (smsswitch_[a-z_]+)", text, re.MULTILINE))
        daemon.stop()
    missing = {name for name in queried_metrics() if name not in exported and name.removesuffix("_bucket") not in exported}
    assert not missing, f"dashboard queries metrics the daemon does not export: {sorted(missing)}"
