"""The journal's disk fills up or turns read-only under the running daemon: new submits are
refused with a clear status (ESME_RMSGQFUL when full, ESME_RSYSERR when read-only), the daemon
and other binds stay up, nothing already journalled is harmed, and when the disk is back the
daemon accepts again on its own; after a restart every accepted message is receipted.

The disk is a small tmpfs mounted here (needs root and mount(8); skipped with the reason if
mounting is refused).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from smsswitch.client import SmppError, connect
from smsswitch.harness import DaemonProcess
from smsswitch.journal.journal import Journal
from smsswitch.smpp.constants import CommandStatus
from tests.faults.rig import (
    DEST,
    LoadTenant,
    SimRig,
    TenantLog,
    daemon_config,
    daemon_log_problems,
    start_daemon,
    stop_daemon,
)

pytestmark = pytest.mark.timeout(150)

FULL = int(CommandStatus.ESME_RMSGQFUL)
SYSERR = int(CommandStatus.ESME_RSYSERR)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a small tmpfs: needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is refused here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def remount(mountpoint: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mountpoint)], check=True)


async def submit_one(client, text: str) -> tuple[str | None, int]:  # type: ignore[no-untyped-def]
    try:
        return (await client.submit(DEST, text, source="DEMO"))[0], 0
    except SmppError as exc:
        return None, exc.status


async def test_full_disk_refuses_with_msgqful_and_recovers_by_itself(tmp_path: Path, small_disk: Path) -> None:
    journal_path = small_disk / "journal"
    log = TenantLog()
    async with trio.open_nursery() as nursery:
        rig = SimRig(nursery, receipt_delay=0.05)
        await rig.start()
        config = daemon_config(tmp_path, {"sim": rig.port}, journal={"path": str(journal_path), "map_size": 64 << 20})
        daemon = DaemonProcess(config)
        try:
            await start_daemon(daemon)
            # A receiver for the whole test (a tenant cancelled mid-read would lose receipts it
            # had already acknowledged), and a transmitter that fills the disk: submit until the
            # switch refuses (bounded in count and time).
            nursery.start_soon(LoadTenant(daemon.smpp_port, log, max_messages=0, bind_type="receiver").run, trio.Event())
            tenant = LoadTenant(daemon.smpp_port, log, rate=0, workers=8, prefix="f", max_messages=30_000,
                                bind_type="transmitter")
            with trio.fail_after(60):
                async with trio.open_nursery() as load:
                    load.start_soon(tenant.run, trio.Event())
                    while sum(log.refused.values()) < 50:
                        await trio.sleep(0.05)
                    load.cancel_scope.cancel()
            assert set(log.refused) == {FULL}, f"a full disk must answer ESME_RMSGQFUL only: {dict(log.refused)}"
            assert len(log.accepted) > 500, "the disk filled before anything meaningful was written"
            # 2. While full: the daemon is up, binds work, submits keep being refused clearly.
            # Pages freed by messages finishing meanwhile let submits through until the space
            # is used up again (a whole run of them, when the load stopped just as a batch of
            # receipts freed pages): submit until refused, bounded in count and time.
            statuses = []
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="transmitter") as client:
                with trio.move_on_after(30):
                    for i in range(2000):
                        message_id, status = await submit_one(client, f"still full {i}")
                        statuses.append(status)
                        if message_id:
                            log.accepted[message_id] = f"still full {i}"
                        if status == FULL and len(statuses) >= 10:
                            break
            assert FULL in statuses and set(statuses) <= {0, FULL}, statuses
            assert daemon.process.poll() is None  # type: ignore[union-attr]
            # 3. Space returns: the same daemon accepts again by itself.
            remount(small_disk, "size=64m")
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="transmitter") as client:
                with trio.fail_after(20):
                    while True:
                        message_id, status = await submit_one(client, "space is back")
                        if message_id:
                            log.accepted[message_id] = "space is back"
                            break
                        assert status == FULL
                        await trio.sleep(0.2)
            problems = [p for p in daemon_log_problems(daemon) if "journal" not in p]
            assert not problems, problems[:3]
            assert await stop_daemon(daemon) == 0
            # 4. Nothing journalled was harmed: the journal is consistent and holds every
            # accepted message; after a restart (replay) every one of them is receipted.
            journal = Journal.open_readonly(journal_path)
            try:
                assert journal.check() == []
                absent = [i for i in log.accepted if journal.get(i) is None]
                assert not absent, f"{len(absent)} accepted messages are not in the journal"
            finally:
                journal.close()
            await start_daemon(daemon)  # the receiver binds again by itself
            missing = await log.wait_receipts(40)
            assert not missing, f"{len(missing)} of {len(log.accepted)} accepted messages never receipted: {describe(journal_path, missing)}"
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            rig.stop()
            nursery.cancel_scope.cancel()


def describe(journal_path: Path, ids: set[str]) -> str:
    """States of `ids` and the history of one of them (for a failure message)."""
    from collections import Counter

    journal = Journal.open_readonly(journal_path)
    try:
        records = [journal.get(i) for i in sorted(ids)]
        states = Counter(r.state.name if r else "absent" for r in records)
        sample = next((r for r in records if r is not None), None)
        outbox = journal.counts()["outbox"]
        return f"states {dict(states)}, outbox {outbox}, e.g. {sample!r:.1500}"
    finally:
        journal.close()


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A 32 MiB ext4 on a loop device, mounted errors=remount-ro: (mountpoint, image)."""
    image, mountpoint = tmp_path / "ext4.img", tmp_path / "ext4"
    mountpoint.mkdir()
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("mount", "mkfs.ext4", "e2fsck", "findmnt")):
        pytest.skip("the read-only test mounts an ext4 loop image: needs root, mount, mkfs.ext4, e2fsck")
    with image.open("wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True, capture_output=True)
    done = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mountpoint)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"mounting a loop device is refused here: {done.stderr.strip()}")
    try:
        yield mountpoint, image
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fail_filesystem(mountpoint: Path) -> None:
    """What ext4 does on a real I/O error with errors=remount-ro: read-only under our feet,
    files still open for writing (a plain `mount -o remount,ro` is refused then: EBUSY)."""
    device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mountpoint)], capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
    if not trigger.exists():
        pytest.skip(f"this kernel has no {trigger} to turn the file system read-only")
    trigger.write_text("smsswitch fault test\n")


async def test_read_only_journal_refuses_with_syserr_and_restart_replays(tmp_path: Path, ext4_disk) -> None:  # type: ignore[no-untyped-def]
    mountpoint, image = ext4_disk
    journal_path = mountpoint / "journal"
    log = TenantLog()
    async with trio.open_nursery() as nursery:
        rig = SimRig(nursery, receipt_delay=1.0)  # receipts still due when the disk goes
        await rig.start()
        config = daemon_config(tmp_path, {"sim": rig.port}, journal={"path": str(journal_path), "map_size": 16 << 20})
        daemon = DaemonProcess(config)
        try:
            await start_daemon(daemon)
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="transmitter") as client:
                for i in range(100):
                    message_id, status = await submit_one(client, f"before {i}")
                    assert message_id, f"refused 0x{status:08X} before any fault"
                    log.accepted[message_id] = f"before {i}"
                fail_filesystem(mountpoint)
                statuses = [(await submit_one(client, f"read only {i}"))[1] for i in range(5)]
            assert set(statuses) == {SYSERR}, f"a read-only journal must answer ESME_RSYSERR: {statuses}"
            # The daemon is up and binds still work (a bind needs no journal write).
            async with connect("127.0.0.1", daemon.smpp_port, "acme", "acmepass") as client:
                pass
            assert daemon.process.poll() is None  # type: ignore[union-attr]
            # The operator stops it, repairs the file system and starts it again.
            with trio.fail_after(40):
                await stop_daemon(daemon)
            subprocess.run(["umount", str(mountpoint)], check=True)
            subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True)
            subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mountpoint)], check=True)
            journal = Journal.open_readonly(journal_path)
            try:
                assert journal.check() == []
                assert all(journal.get(i) is not None for i in log.accepted)
            finally:
                journal.close()
            await start_daemon(daemon)
            receiver = TenantLog()
            nursery.start_soon(LoadTenant(daemon.smpp_port, receiver, max_messages=0).run, trio.Event())
            missing = await receiver.wait_receipts(40, set(log.accepted))
            assert not missing, f"{len(missing)} of {len(log.accepted)} accepted messages never receipted"
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            rig.stop()
            nursery.cancel_scope.cancel()
