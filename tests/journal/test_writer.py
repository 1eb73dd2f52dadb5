"""The group-commit writer: batching, back-pressure, cancellation, map growth, full disks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from smsswitch.journal import (
    Journal,
    JournalConfig,
    JournalFullError,
    JournalOverloadedError,
    JournalUnavailableError,
    MessageRecord,
    PutMessage,
    open_journal,
)
from smsswitch.smpp.constants import CommandStatus
from tests.journal.holdop import HoldOp


def record(journal: Journal, payload: bytes = b"x", **kw) -> MessageRecord:
    return MessageRecord(id=journal.new_id(), tenant="acme", source="ACME", destination="+263771234567", created=time.time(), payload=payload, **kw)


async def test_concurrent_commits_share_transactions(journal) -> None:
    ids: list[str] = []

    async def submit() -> None:
        r = record(journal)
        await journal.commit([PutMessage(r)])
        ids.append(r.id)

    async with trio.open_nursery() as nursery:
        for _ in range(300):
            nursery.start_soon(submit)
    stats = journal.writer_stats()
    assert len(ids) == 300 and journal.counts()["messages"] == 300
    assert stats["commits"] < 300  # many waiters per fsync
    assert stats["largest_batch_ops"] > 1
    assert stats["pending"] == 0


async def test_full_queue_refuses_fast_or_waits(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, max_pending=3, initial_map_size=4 << 20)
    async with open_journal(config) as journal:
        blocker = HoldOp.in_dir(journal_path.parent)
        results: list[object] = []

        async def submit(ops) -> None:
            results.append(await journal.commit(ops))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(submit, [blocker])
            await blocker.wait_entered()
            nursery.start_soon(submit, [PutMessage(record(journal))])
            nursery.start_soon(submit, [PutMessage(record(journal))])
            await trio.testing.wait_all_tasks_blocked()
            assert journal.pending == 3 and journal.is_overloaded
            with pytest.raises(JournalOverloadedError) as refused:
                await journal.try_commit([PutMessage(record(journal))])
            assert refused.value.smpp_status is CommandStatus.ESME_RMSGQFUL
            nursery.start_soon(submit, [PutMessage(record(journal))])  # waits for room
            await trio.testing.wait_all_tasks_blocked()
            assert len(results) == 0
            blocker.let_go()
        # Answers of two batches can wake their waiters in one scheduler batch, in any order.
        assert ["released"] in results and len(results) == 4
        assert journal.pending == 0 and not journal.is_overloaded
        assert journal.counts()["messages"] == 3


async def test_cancelled_waiter_still_commits_and_frees_its_slot(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, max_pending=2, initial_map_size=4 << 20)
    async with open_journal(config) as journal:
        blocker = HoldOp.in_dir(journal_path.parent)
        r = record(journal)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(journal.commit, [blocker])
            await blocker.wait_entered()
            with trio.move_on_after(0.05) as scope:
                await journal.commit([PutMessage(r)])
            assert scope.cancelled_caught
            blocker.let_go()
        await journal.commit([])  # a barrier: everything before it is committed
        assert journal.get(r.id) is not None
        assert journal.pending == 0


async def test_closed_and_read_only_journals_refuse_writes(journal_path: Path) -> None:
    async with open_journal(JournalConfig(path=journal_path, initial_map_size=4 << 20)) as journal:
        r = record(journal)
        await journal.commit([PutMessage(r)])
    with pytest.raises(JournalUnavailableError):
        await journal.commit([PutMessage(r)])
    readonly = Journal.open_readonly(journal_path)
    try:
        assert readonly.get(r.id).id == r.id
        with pytest.raises(JournalUnavailableError):
            await readonly.commit([PutMessage(r)])
    finally:
        readonly.close()


async def test_map_grows_when_full_and_keeps_everything(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, initial_map_size=1 << 20, max_map_size=64 << 20)
    async with open_journal(config) as journal:
        ids = []
        for _ in range(12):  # ~3 MiB in 12 commits of 100 x 2.5 KiB
            batch = [record(journal, payload=os.urandom(2500)) for _ in range(100)]
            await journal.commit([PutMessage(r) for r in batch])
            ids.extend(r.id for r in batch)
            assert journal.healthy
        assert journal.writer_stats()["map_growths"] >= 2
        assert journal.map_info()["map_size"] > 1 << 20
        assert all(journal.get(i) is not None for i in ids[:: 97])
        assert journal.counts()["messages"] == len(ids)
        assert journal.check() == []


async def test_map_at_its_maximum_fails_typed_and_keeps_what_was_committed(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, initial_map_size=1 << 20, max_map_size=1 << 20)
    async with open_journal(config) as journal:
        kept: list[str] = []
        with pytest.raises(JournalFullError) as full:
            for _ in range(50):
                batch = [record(journal, payload=os.urandom(2000)) for _ in range(20)]
                await journal.commit([PutMessage(r) for r in batch])
                kept.extend(r.id for r in batch)
        assert full.value.smpp_status is CommandStatus.ESME_RMSGQFUL
        assert kept and not journal.healthy
        assert journal.counts()["messages"] == len(kept)
        assert all(journal.get(i) is not None for i in kept)
        assert journal.check() == []
        # The headroom left is for finishing and freeing work: transitions and purges go on,
        # and once purged, new messages are accepted again.
        from smsswitch.journal import MessageState, Transition, purge

        for start in range(0, len(kept), 10):
            done = [Transition(i, MessageState.DELIVERED, time.time() - 86400) for i in kept[start : start + 10]]
            assert all(await journal.commit(done))
        assert await purge(journal, older_than=3600, batch=10) == len(kept)
        await journal.commit([PutMessage(record(journal, payload=os.urandom(2000))) for _ in range(20)])
        assert journal.healthy and journal.counts()["messages"] == 20
    # Reopened with a higher ceiling, the same journal takes writes again.
    async with open_journal(JournalConfig(path=journal_path, initial_map_size=1 << 20, max_map_size=8 << 20)) as journal:
        await journal.commit([PutMessage(record(journal))])
        assert journal.counts()["messages"] == 21 and journal.check() == []


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    """A 2 MiB tmpfs: a disk that really fills up. Needs root and mount(2)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("tmpfs disk-full test needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


async def test_full_disk_fails_typed_keeps_commits_and_recovers(tiny_tmpfs: Path) -> None:
    path = tiny_tmpfs / "journal"
    config = JournalConfig(path=path, initial_map_size=64 << 20)
    async with open_journal(config) as journal:
        kept: list[str] = []
        with pytest.raises(JournalFullError) as full:
            for _ in range(200):  # bounded: 2 MiB fills long before 200 x 40 KiB
                batch = [record(journal, payload=os.urandom(2000)) for _ in range(20)]
                await journal.commit([PutMessage(r) for r in batch])
                kept.extend(r.id for r in batch)
        assert full.value.smpp_status is CommandStatus.ESME_RMSGQFUL
        assert "space" in str(full.value)
        assert kept and not journal.healthy
        # A second failing batch fails the same way; nothing committed is harmed.
        with pytest.raises(JournalFullError):
            await journal.commit([PutMessage(record(journal, payload=os.urandom(60_000)))])
        assert journal.counts()["messages"] == len(kept)
        assert all(journal.get(i) is not None for i in kept)
        assert journal.check() == []
        # Space returns: the very next commit succeeds.
        subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_tmpfs)], check=True)
        late = record(journal)
        await journal.commit([PutMessage(late)])
        assert journal.healthy and journal.get(late.id) is not None
    readonly = Journal.open_readonly(path)
    try:
        assert readonly.counts()["messages"] == len(kept) + 1 and readonly.check() == []
    finally:
        readonly.close()


def test_write_errors_are_classified_by_cause_and_free_space(tmp_path: Path) -> None:
    # LMDB reports a short write on a full disk as EIO; with plenty of space left, EIO is
    # an I/O failure (ESME_RSYSERR), not a full journal.
    from smsswitch.journal.committer import classify as _classify

    eio = OSError(5, "mdb_txn_commit: Input/output error")
    assert isinstance(_classify(eio, str(tmp_path)), JournalUnavailableError)
    assert _classify(eio, str(tmp_path)).smpp_status is CommandStatus.ESME_RSYSERR
    assert isinstance(_classify(OSError(28, "No space left on device"), str(tmp_path)), JournalFullError)


GROW_ELSEWHERE = """
import os, sys, time, trio
from smsswitch.journal import JournalConfig, MessageRecord, PutMessage, open_journal
async def main():
    config = JournalConfig(path=sys.argv[1], initial_map_size=1 << 20, max_map_size=64 << 20)
    async with open_journal(config) as j:
        for _ in range(12):
            rs = [MessageRecord(id=j.new_id(), tenant="other", source="A", destination="B", created=time.time(), payload=os.urandom(2500)) for _ in range(100)]
            await j.commit([PutMessage(r) for r in rs])
        print(j.map_info()["map_size"])
trio.run(main)
"""


async def test_map_grown_by_another_process_is_adopted(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, initial_map_size=1 << 20, max_map_size=64 << 20)
    async with open_journal(config) as journal:
        mine = record(journal)
        await journal.commit([PutMessage(mine)])
        done = await trio.run_process([sys.executable, "-c", GROW_ELSEWHERE, str(journal_path)], capture_stdout=True)
        assert int(done.stdout.splitlines()[-1]) > 1 << 20
        assert journal.get(mine.id) is not None  # a reader adopts the bigger map
        assert journal.map_info()["map_size"] > 1 << 20
        assert journal.counts()["messages"] == 1201
        await journal.commit([PutMessage(record(journal, payload=os.urandom(2500))) for _ in range(50)])
        assert journal.healthy and journal.counts()["messages"] == 1251
        assert journal.check() == []
