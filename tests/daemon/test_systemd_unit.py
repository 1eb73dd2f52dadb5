"""The shipped unit passes `systemd-analyze verify` and carries the settings operators rely on."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "smsswitch.service"


def test_unit_has_notify_reload_state_and_hardening() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=smsswitch",
        "User=smsswitch",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "LimitNOFILE=65536",
        "Restart=on-failure",
        "WatchdogSec=",
    ):
        assert line in text, line
    assert "smsswitch run --config" in text


def test_systemd_analyze_verify_accepts_it(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed (Debian package: systemd)")
    # verify checks that ExecStart's binary exists: point it at this interpreter.
    unit = tmp_path / "smsswitch.service"
    unit.write_text(UNIT.read_text().replace("/opt/smsswitch/bin/smsswitch", sys.executable))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "smsswitch.service" not in result.stderr, result.stderr
