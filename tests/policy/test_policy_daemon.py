"""The policy in the real daemon process: loaded at start, enforced, reloaded on SIGHUP; a
broken policy file refuses the start (exit 1, file:line) and a reload (the running policy
stays); check-config reports it; `smsswitch policy check --config` reads the daemon config."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from smsswitch.client import SmppError, connect
from smsswitch.harness import DaemonProcess, write_config

pytestmark = pytest.mark.timeout(120)

GOOD = """\
tenants:
  demo:
    senders: {allow: ["DEMO", "SMSSWITCH"], otherwise: reject}
"""
# Line 3: an unknown key under senders.
BROKEN = """\
tenants:
  demo:
    senders: {allow: ["DEMO"], otherwize: reject}
"""
OPEN = "tenants:\n  demo: {}\n"


def statuses(port: int, *senders: str) -> list[int]:
    """Submit one message from each sender as tenant demo; the SMPP status of each."""

    async def run() -> list[int]:
        out = []
        async with connect("127.0.0.1", port, "demo", "demopass") as client:
            for sender in senders:
                try:
                    await client.submit("+263771234567", "hello", source=sender)
                    out.append(0)
                except SmppError as exc:
                    out.append(exc.status)
        return out

    return trio.run(run)


def smsswitch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smsswitch.cli", *args], capture_output=True, text=True, timeout=60)


def test_broken_policy_refuses_the_start_with_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, policy=BROKEN)
    policy = tmp_path / "policy.yaml"
    check = smsswitch("check-config", str(config))
    assert check.returncode == 1
    assert f"{policy}:3:32: unknown key 'otherwize'" in check.stderr
    run = smsswitch("run", "--config", str(config))
    assert run.returncode == 1
    assert f"{policy}:3:32: unknown key 'otherwize'" in run.stdout + run.stderr


def test_sighup_with_a_broken_policy_keeps_the_running_one(tmp_path: Path) -> None:
    config = write_config(tmp_path, policy=GOOD)
    policy = tmp_path / "policy.yaml"
    with DaemonProcess(config) as daemon:
        daemon.start()
        assert statuses(daemon.smpp_port, "DEMO", "EVIL") == [0, 0x0A]  # ESME_RINVSRCADR

        policy.write_text(BROKEN)
        daemon.signal(signal.SIGHUP)
        daemon.wait_notification("reload rejected", 20)
        assert daemon.metric("smsswitch_reloads_total", result="failed") == 1
        assert f"{policy}:3:32" in daemon.log_tail(60)
        # The good policy is still the one enforced.
        assert statuses(daemon.smpp_port, "DEMO", "EVIL") == [0, 0x0A]
        assert daemon.metric("smsswitch_policy_rejections_total", tenant="demo", check="sender") == 2

        policy.write_text(OPEN)
        daemon.signal(signal.SIGHUP)
        daemon.wait_notification("STATUS=reloaded", 20)
        assert statuses(daemon.smpp_port, "EVIL") == [0]
        assert daemon.metric("smsswitch_policy_rejections_total", tenant="demo", check="sender") == 2
        assert daemon.stop() == 0


def test_policy_check_reads_the_daemon_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, policy=GOOD)
    common = ["policy", "check", "--config", str(config), "--tenant", "demo", "--to", "+263771234567", "--text", "hi"]
    refused = smsswitch(*common, "--from", "EVIL")
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[0] == f"policy {tmp_path / 'policy.yaml'}, tenant demo"
    assert "verdict: reject ESME_RINVSRCADR (0x0A) [sender]" in refused.stdout
    assert smsswitch(*common, "--from", "DEMO").returncode == 0
    # The daemon's own loader reads --config: its errors are reported with file:line.
    config.write_text(config.read_text().replace("drain_grace:", "drain_grase:"))
    broken = smsswitch(*common, "--from", "DEMO")
    assert broken.returncode == 1 and f"{config}:" in broken.stderr and "drain_grase" in broken.stderr


def test_check_config_warns_of_replies_for_mo_rules_that_do_not_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path, policy="auto_replies:\n  routes:\n    demo-keywrd: Thanks\n")
    check = smsswitch("check-config", str(config))
    assert check.returncode == 0
    assert f"{tmp_path / 'policy.yaml'}:3:5: warning: auto-reply for MO rule 'demo-keywrd'" in check.stdout
    assert "did you mean 'demo-keyword'?" in check.stdout
