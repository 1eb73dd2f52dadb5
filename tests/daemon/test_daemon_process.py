"""The real daemon as a subprocess: READY=1, SIGHUP reload, SIGTERM drain, metrics, check-config."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from smsswitch.client import SmppError, connect
from smsswitch.harness import DaemonProcess, write_config
from smsswitch.journal.journal import Journal

pytestmark = pytest.mark.timeout(120)


async def submit_and_collect(port: int, count: int, to: str = "+263771234567", password: str = "demopass") -> tuple[list[str], list[str]]:
    """Submit `count` messages as tenant demo; return (our ids, receipted ids) within 20 s."""
    ids: list[str] = []
    receipted: list[str] = []
    with trio.fail_after(30):
        async with connect("127.0.0.1", port, "demo", password) as client:
            for i in range(count):
                ids += await client.submit(to, f"message {i}", source="DEMO")
            while len(receipted) < len(ids):
                delivered = await client.next_delivery(20)
                assert delivered is not None, f"only {len(receipted)} of {len(ids)} receipts"
                assert delivered.is_receipt
                receipted.append(delivered.receipted_message_id)
    return ids, receipted


def test_ready_submit_receipt_metrics_and_clean_stop(tmp_path: Path) -> None:
    with DaemonProcess(write_config(tmp_path)) as daemon:
        daemon.start()
        before = daemon.metric("smsswitch_connector_submits_total", connector="sim")
        ids, receipted = trio.run(submit_and_collect, daemon.smpp_port, 5)
        assert sorted(ids) == sorted(receipted) and len(set(ids)) == 5
        assert daemon.metric("smsswitch_connector_submits_total", connector="sim") == before + 5
        assert daemon.metric("smsswitch_connector_receipts_total", connector="sim") >= 5
        assert daemon.metric("smsswitch_connector_sessions_bound", connector="sim") == 2
        assert "smsswitch_journal_commits_total" in daemon.metrics()
        assert daemon.stop() == 0
        assert "STOPPING=1" in daemon.wait_notification("STOPPING=1", 5)
    journal = Journal.open_readonly(tmp_path / "journal")
    try:
        for message_id in ids:
            record = journal.get(message_id)
            assert record is not None and record.state.name == "DELIVERED"
    finally:
        journal.close()


def test_the_daemon_outlives_its_journal_writer(tmp_path: Path) -> None:
    # kill -9 of the writer process: the daemon stays up, a new writer takes over, messages
    # keep flowing end to end, and the metrics say it happened.
    import os
    import time

    with DaemonProcess(write_config(tmp_path)) as daemon:
        daemon.start()
        earlier, _ = trio.run(submit_and_collect, daemon.smpp_port, 2)
        (writer,) = daemon.writer_pids()
        os.kill(writer, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while daemon.metric("smsswitch_journal_writer_restarts_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert daemon.metric("smsswitch_journal_writer_restarts_total") == 1
        (new_writer,) = daemon.writer_pids()
        assert new_writer != writer
        first_ids, receipted = trio.run(submit_until_receipted, daemon.smpp_port, 3)
        # The tenant's acks of earlier receipts may have died with the writer: those receipts
        # come again (at least once), and only they may.
        assert set(first_ids) <= set(receipted) and set(receipted) - set(first_ids) <= set(earlier)
        assert daemon.stop() == 0


async def submit_until_receipted(port: int, count: int) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    receipted: list[str] = []
    with trio.fail_after(30):
        async with connect("127.0.0.1", port, "demo", "demopass") as client:
            for i in range(count):
                ids += await client.submit("+263771234567", f"message {i}", source="DEMO")
            while not set(ids) <= set(receipted):
                delivered = await client.next_delivery(20)
                assert delivered is not None and delivered.is_receipt
                receipted.append(delivered.receipted_message_id)
    return ids, receipted


def test_sighup_reload_good_and_bad(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    routes = tmp_path / "routes.yaml"
    with DaemonProcess(config) as daemon:
        daemon.start()
        # A bad route file is refused; the daemon keeps running on the old table.
        good = routes.read_text()
        routes.write_text(good + "\n  - name: broken\n    match: {prefixes: [\"+26x\"]}\n    connectors: [nowhere]\n")
        daemon.signal(signal.SIGHUP)
        daemon.wait_notification("reload rejected", 20)
        assert daemon.metric("smsswitch_reloads_total", result="failed") == 1
        assert "routes.yaml:" in daemon.log_tail(60)
        ids, receipted = trio.run(submit_and_collect, daemon.smpp_port, 2)
        assert sorted(ids) == sorted(receipted)
        # A good file that rejects +263 now: new submits get the new decision, binds stay up.
        routes.write_text(good.replace("mt:\n", "mt:\n  - name: stop-zw\n    match: {prefixes: [\"+263\"]}\n    reject: {status: ESME_RINVDSTADR, reason: closed}\n", 1))
        daemon.signal(signal.SIGHUP)
        daemon.wait_notification("STATUS=reloaded", 20)
        assert daemon.metric("smsswitch_reloads_total", result="ok") == 1

        async def refused() -> int:
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass") as client:
                with pytest.raises(SmppError) as info:
                    await client.submit("+263771234567", "x", source="DEMO")
                return info.value.status

        assert trio.run(refused) == 0x0B  # ESME_RINVDSTADR
        assert daemon.stop() == 0


def test_sigterm_while_messages_flow_loses_nothing(tmp_path: Path) -> None:
    # Slow receipts: many messages are still ENROUTE when SIGTERM arrives.
    config = write_config(tmp_path, {"simulator": {"receipt_delay": 30}})
    with DaemonProcess(config) as daemon:
        daemon.start()

        async def submit_many() -> list[str]:
            ids: list[str] = []
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass") as client:
                for i in range(50):
                    ids += await client.submit("+263771234567", f"m{i}", source="DEMO")
            return ids

        ids = trio.run(submit_many)
        assert daemon.stop() == 0
    journal = Journal.open_readonly(tmp_path / "journal")
    try:
        states = {journal.get(i).state.name for i in ids}
        assert all(journal.get(i) is not None for i in ids)
        assert states <= {"QUEUED", "SUBMITTED", "ENROUTE", "DELIVERED"}
    finally:
        journal.close()


def test_check_config_reports_broken_files(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    good = subprocess.run([sys.executable, "-m", "smsswitch.cli", "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    config.write_text(config.read_text().replace("drain_grace:", "drain_grase:"))
    bad = subprocess.run([sys.executable, "-m", "smsswitch.cli", "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert f"{config}:" in bad.stderr and "unknown key 'drain_grase'" in bad.stderr and "did you mean 'drain_grace'" in bad.stderr
    run = subprocess.run([sys.executable, "-m", "smsswitch.cli", "run", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "drain_grase" in run.stderr


def _allowed_cpus(pid: int, tid: int | None = None) -> str:
    status = Path(f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status").read_text()
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("Cpus_allowed_list"))


@pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_cpu_placement_of_the_main_process_and_the_journal_writer(tmp_path: Path) -> None:
    import os

    first, second = sorted(os.sched_getaffinity(0))[:2]
    config = write_config(tmp_path, {"cpus": {"main": [first], "journal_writer": [second]}})
    with DaemonProcess(config) as daemon:
        daemon.start()
        ids, receipted = trio.run(submit_and_collect, daemon.smpp_port, 2)
        assert sorted(ids) == sorted(receipted)
        assert daemon.process is not None
        main = daemon.process.pid
        threads = os.listdir(f"/proc/{main}/task")
        assert len(threads) >= 2  # trio's and the journal's threads too
        assert {_allowed_cpus(main, int(tid)) for tid in threads} == {str(first)}
        (writer,) = daemon.writer_pids()
        assert _allowed_cpus(writer) == str(second)
        os.kill(writer, signal.SIGKILL)  # the writer that replaces it goes to the same place
        deadline = time.monotonic() + 20
        while daemon.metric("smsswitch_journal_writer_restarts_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # until the new writer has opened the journal (and placed itself)
        (new_writer,) = daemon.writer_pids()
        assert new_writer != writer and _allowed_cpus(new_writer) == str(second)
        assert daemon.stop() == 0


@pytest.mark.skipif(len(__import__("os").sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_with_only_the_main_process_placed_the_writer_is_not_confined_with_it(tmp_path: Path) -> None:
    import os

    from smsswitch.config_load import online_cpus

    first = min(os.sched_getaffinity(0))
    with DaemonProcess(write_config(tmp_path, {"cpus": {"main": [first]}})) as daemon:
        daemon.start()
        (writer,) = daemon.writer_pids()
        allowed = _allowed_cpus(writer)
        assert allowed != str(first)  # it used to inherit main's single CPU
        assert os.sched_getaffinity(writer) == online_cpus() & os.sched_getaffinity(0)
        assert daemon.stop() == 0
