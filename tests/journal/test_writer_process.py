"""The writer process: ops cross the pipe unchanged, its death fails only what it held and a new
one takes over, and it never outlives the daemon that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
import trio

from smsswitch.journal import (
    AckOutbox,
    AddOutbox,
    Correlate,
    DeadLetterMessage,
    DeadLetterOutbox,
    DeleteDeadLetter,
    DeleteMessage,
    JournalConfig,
    JournalUnavailableError,
    MessageRecord,
    MessageState,
    PutMessage,
    Redrive,
    RescheduleOutbox,
    Transition,
    open_journal,
)
from smsswitch.journal.ops import EraseRef, PutMessageFields, op_from_wire, op_to_wire
from smsswitch.journal.records import message_to_fields
from smsswitch.journal.writer import GroupCommitWriter
from smsswitch.core.suppression import SetOptOut
from tests.journal.holdop import HoldOp
from tests.journal.procs import alive, wait_gone


async def test_every_op_survives_the_wire(make_record, make_entry) -> None:
    record = make_record(history=())
    entry = make_entry()
    plain = [
        Correlate("id1", "conn", "0xAB"), DeleteMessage("id2"), AckOutbox("o1"), RescheduleOutbox("o2", 12.5, 2),
        DeadLetterOutbox("o3", "expired", 1.0), DeadLetterMessage("id3", "gave up", 2.0), Redrive("d1", 3.0),
        DeleteDeadLetter("d2"), EraseRef("263771234567", b"M", "id4"), AddOutbox(entry),
        SetOptOut("acme", "+263771234567", True, 4.0),  # no compact form: crosses as a pickle
    ]  # fmt: skip
    for op in plain:
        assert op_from_wire(op_to_wire(op)) == op
    put = op_from_wire(op_to_wire(PutMessage(record)))
    assert isinstance(put, PutMessageFields) and put.fields == message_to_fields(record)
    nested = Transition(
        "id5", MessageState.DELIVERED, 5.0, detail="DELIVRD", error=0, route="r", connector="c",
        carrier_id="99", count_attempt=True, due=6.0, expect=frozenset({MessageState.ENROUTE}),
        on_applied=(AddOutbox(entry), DeadLetterMessage("id5", "x", 7.0)),
    )  # fmt: skip
    back = op_from_wire(op_to_wire(nested))
    assert attrs.evolve(back, state=MessageState(back.state)) == nested
    assert back.expect == {int(MessageState.ENROUTE)}


async def test_a_killed_writer_fails_what_it_held_and_is_replaced(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, initial_map_size=4 << 20)
    async with open_journal(config) as journal:

        def make() -> MessageRecord:
            return MessageRecord(id=journal.new_id(), tenant="acme", source="A", destination="+263771234567", created=time.time())

        kept = make()
        await journal.commit([PutMessage(kept)])
        writer: GroupCommitWriter = journal._writer  # type: ignore[assignment]
        old_pid = writer._child.pid  # type: ignore[union-attr]
        hold = HoldOp.in_dir(journal_path.parent)
        outcome: list[object] = []

        async def held() -> None:
            try:
                outcome.append(await journal.commit([hold, PutMessage(make())]))
            except JournalUnavailableError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(held)
            await hold.wait_entered()
            os.kill(old_pid, signal.SIGKILL)
        assert isinstance(outcome[0], JournalUnavailableError)
        assert not journal.healthy
        with trio.fail_after(20):  # a new writer process takes the next commits
            while True:
                try:
                    late = make()
                    await journal.commit([PutMessage(late)])
                    break
                except JournalUnavailableError:
                    await trio.sleep(0.05)
        assert writer._child.pid != old_pid  # type: ignore[union-attr]
        assert journal.writer_stats()["writer_restarts"] == 1
        assert journal.healthy
        assert journal.get(kept.id) is not None and journal.get(late.id) is not None
        assert journal.counts()["messages"] == 2  # the killed batch left nothing behind
        assert journal.check() == []


DAEMON_LIKE = """
import sys, time, trio
from smsswitch.journal import JournalConfig, MessageRecord, PutMessage, open_journal
async def main():
    async with open_journal(JournalConfig(path=sys.argv[1], initial_map_size=4 << 20)) as j:
        await j.commit([PutMessage(MessageRecord(id=j.new_id(), tenant="t", source="A", destination="B", created=time.time()))])
        print(j._writer._child.pid, flush=True)
        await trio.sleep(60)
trio.run(main)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_the_writer_process_never_outlives_its_daemon(journal_path: Path, how: str) -> None:
    # SIGTERM goes to the whole service under systemd (the writer ignores it and goes when its
    # daemon does); kill -9 of the daemon closes the pipe, and the writer exits at EOF.
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON_LIKE, str(journal_path)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(daemon.stdout.readline())  # type: ignore[union-attr]
        os.kill(child, signal.SIGTERM)
        time.sleep(0.2)
        assert alive(child)  # ignored: only its daemon ends it
        daemon.send_signal(getattr(signal, how))
        daemon.wait(10)
        assert wait_gone([child])
    finally:
        daemon.kill()
        daemon.wait()



async def test_more_than_a_pipe_full_goes_through_the_sender_thread_in_order(journal_path: Path) -> None:
    # One request larger than the pipe (1 MiB): the non-blocking flush writes what fits and the
    # sender thread writes the rest; requests submitted meanwhile queue behind it. Had any bytes
    # gone down the pipe out of order, the writer process could not have decoded the stream.
    async with open_journal(JournalConfig(path=journal_path, initial_map_size=64 << 20)) as journal:

        def make(size: int) -> MessageRecord:
            return MessageRecord(id=journal.new_id(), tenant="acme", source="A", destination="+263771234567",
                                 created=time.time(), payload=os.urandom(size))  # fmt: skip

        big = [make(6000) for _ in range(400)]  # ~2.4 MiB encoded
        small = [make(10) for _ in range(50)]
        writer: GroupCommitWriter = journal._writer  # type: ignore[assignment]
        done: list[str] = []

        async def commit(name: str, records: list[MessageRecord]) -> None:
            assert await journal.commit([PutMessage(r) for r in records]) == [True] * len(records)
            done.append(name)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(commit, "big", big)
            await trio.testing.wait_all_tasks_blocked()
            assert writer._sender_owns  # the pipe filled up: the thread took over
            for i, r in enumerate(small):
                nursery.start_soon(commit, f"small{i}", [r])
        assert len(done) == 51
        assert journal.counts()["messages"] == 450 and journal.check() == []
        assert not writer._sender_owns  # drained: trio writes directly again


DAEMON_WITH_BACKLOG = """
import sys, time, trio
from pathlib import Path
from smsswitch.journal import JournalConfig, MessageRecord, PutMessage, open_journal
from tests.journal.holdop import HoldOp
from tests.journal.procs import alive, wait_gone

async def main():
    hold = HoldOp.in_dir(Path(sys.argv[2]))
    async with open_journal(JournalConfig(path=sys.argv[1], initial_map_size=4 << 20)) as j:
        def put():
            return PutMessage(MessageRecord(id=j.new_id(), tenant="t", source="A", destination="B", created=time.time()))
        await j.commit([put()])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(j.commit, [hold])
            await hold.wait_entered()
            for _ in range(200):  # down the pipe, behind the held batch: never answered
                nursery.start_soon(j.commit, [put()])
            await trio.sleep(0.5)
            print(j._writer._child.pid, flush=True)
            await trio.sleep(60)

trio.run(main)
"""


def test_a_writer_whose_daemon_died_commits_nothing_more(journal_path: Path, tmp_path: Path) -> None:
    # The daemon is killed while its writer holds a batch and 200 requests wait in the pipe.
    # Nobody was told those 200 were accepted; had the orphan committed them, a daemon
    # restarted meanwhile could have replayed the journal before they landed and missed them.
    root = Path(__file__).resolve().parents[2]
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON_WITH_BACKLOG, str(journal_path), str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=root, env=dict(os.environ, PYTHONPATH=str(root)),
    )  # fmt: skip
    try:
        child = int(daemon.stdout.readline())  # type: ignore[union-attr]
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        HoldOp.in_dir(tmp_path).let_go()  # the held batch commits; then the writer must stop
        assert wait_gone([child])
    finally:
        daemon.kill()
        daemon.wait()
    from smsswitch.journal import Journal

    journal = Journal.open_readonly(journal_path)
    try:
        assert journal.counts()["messages"] == 1  # the one committed before the hold
        assert journal.check() == []
    finally:
        journal.close()
