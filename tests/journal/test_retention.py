"""Retention purge, data-subject erase, dead-letter redrive."""

from __future__ import annotations

import time

from smsswitch.journal import (
    AddOutbox,
    DeadLetterOutbox,
    MessageState,
    PutMessage,
    Transition,
    erase,
    purge,
    purge_dead_letters,
    redrive,
)
from smsswitch.journal.keys import msisdn_digits


async def test_purge_removes_only_old_terminal_messages_in_batches(journal, make_record) -> None:
    now = time.time()
    old_done = [make_record() for _ in range(7)]
    recent_done = make_record()
    old_pending = make_record()
    old_enroute = make_record()
    await journal.commit([PutMessage(r) for r in (*old_done, recent_done, old_pending, old_enroute)])
    ops = [Transition(r.id, MessageState.DELIVERED, now - 8 * 86400, connector="c", carrier_id=f"{i:x}") for i, r in enumerate(old_done)]
    ops.append(Transition(old_done[0].id, MessageState.EXPIRED, now))  # no-op: already final
    ops.append(Transition(recent_done.id, MessageState.UNDELIVERABLE, now - 3600))
    ops.append(Transition(old_enroute.id, MessageState.ENROUTE, now - 9 * 86400))
    await journal.commit(ops)
    before = journal.writer_stats()["commits"]

    assert await purge(journal, 7 * 86400, now=now, batch=3) == 7
    assert journal.writer_stats()["commits"] - before == 3  # 3 + 3 + 1
    remaining = {r.id for r in (recent_done, old_pending, old_enroute)}
    with journal.read() as txn:
        assert set(journal.store.iter_tenant_messages(txn, "acme")) == remaining
    assert journal.counts()["correlation"] == 0
    assert journal.check() == []
    assert await purge(journal, 7 * 86400, now=now) == 0


async def test_erase_removes_every_trace_of_one_number(journal, make_record, make_entry) -> None:
    number = "+263771112222"
    as_destination = make_record(destination=number)
    as_source = make_record(source="263771112222")  # same number without '+'
    unrelated = make_record()
    receipt = make_entry(msisdn=number, message_id=as_destination.id)
    dead = make_entry(msisdn=number)
    other_entry = make_entry()
    await journal.commit(
        [
            *(PutMessage(r) for r in (as_destination, as_source, unrelated)),
            Transition(as_destination.id, MessageState.DELIVERED, 5.0, connector="c", carrier_id="99"),
            AddOutbox(receipt),
            AddOutbox(dead),
            AddOutbox(other_entry),
            DeadLetterOutbox(dead.id, "expired", 6.0),
        ]
    )
    counts = await erase(journal, "+263 771112222".replace(" ", ""), batch=2)
    assert (counts.messages, counts.outbox, counts.dead_letters, counts.total) == (2, 1, 1, 4)
    assert journal.get(as_destination.id) is None and journal.get(as_source.id) is None
    assert journal.get(unrelated.id) is not None
    assert [e.id for e in journal.outbox_for("acme")] == [other_entry.id]
    assert journal.dead_letters() == []
    assert journal.lookup_carrier_id("c", "99") is None
    with journal.read() as txn:
        assert list(journal.store.iter_msisdn(txn, msisdn_digits(number))) == []
    assert journal.check() == []
    assert (await erase(journal, number)).total == 0


async def test_erase_rejects_what_is_not_a_number(journal) -> None:
    import pytest

    with pytest.raises(ValueError):
        await erase(journal, "ACME")


async def test_redrive_reports_what_it_found(journal, make_entry) -> None:
    entry = make_entry()
    await journal.commit([AddOutbox(entry), DeadLetterOutbox(entry.id, "tenant never acked", 1.0)])
    assert await redrive(journal, [entry.id, "0" * 20]) == [entry.id]
    assert journal.outbox_for("acme")[0].id == entry.id


async def test_purge_dead_letters_by_age(journal, make_entry) -> None:
    now = time.time()
    old = [make_entry() for _ in range(5)]
    late = make_entry()
    await journal.commit([AddOutbox(e) for e in (*old, late)])
    await journal.commit([DeadLetterOutbox(e.id, "expired", now) for e in old])
    await journal.commit([DeadLetterOutbox(late.id, "expired", now + 2 * 86400)])
    week = 7 * 86400
    assert await purge_dead_letters(journal, week, now=now + week - 60, batch=2) == 0  # not old enough
    assert await purge_dead_letters(journal, week, now=now + 8 * 86400, batch=2) == 5
    assert [d.id for d in journal.dead_letters()] == [late.id]
    assert journal.counts()["by_msisdn"] == 1 and journal.check() == []
