"""Replay classification: what a restarting switch picks up, each exactly once."""

from __future__ import annotations

from pathlib import Path

from smsswitch.journal import (
    AddOutbox,
    JournalConfig,
    MessageState,
    PutMessage,
    ReplayAction,
    Transition,
    iter_replay,
    open_journal,
    summarize,
)


async def test_replay_classifies_every_state(journal, make_record, make_entry) -> None:
    by_state = {}
    for state in MessageState:
        r = make_record()
        by_state[state] = r.id
        await journal.commit([PutMessage(r)])
        if state is not MessageState.ACCEPTED:
            await journal.commit([Transition(r.id, state, 10.0, connector="c1")])
    await journal.commit([AddOutbox(make_entry()), AddOutbox(make_entry()), AddOutbox(make_entry(tenant="globex"))])

    items = list(iter_replay(journal))
    assert [(i.action, i.record.id) for i in items] == [
        (ReplayAction.ROUTE, by_state[MessageState.ACCEPTED]),
        (ReplayAction.QUEUE, by_state[MessageState.QUEUED]),
        (ReplayAction.RESEND, by_state[MessageState.SUBMITTED]),
    ]
    assert items[1].record.connector == "c1"
    summary = summarize(journal)
    assert (summary.route, summary.queue, summary.resend, summary.awaiting_receipt) == (1, 1, 1, 1)
    assert summary.outbox_by_tenant == {"acme": 2, "globex": 1} and summary.outbox == 3


async def test_replay_is_idempotent_across_restarts(journal_path: Path) -> None:
    config = JournalConfig(path=journal_path, initial_map_size=4 << 20)
    async with open_journal(config) as journal:
        from smsswitch.journal import MessageRecord

        for n in range(30):
            r = MessageRecord(id=journal.new_id(), tenant="acme", source="A", destination=f"+2637700000{n:02d}", created=float(n))
            ops = [PutMessage(r)]
            if n % 3 == 1:
                ops.append(Transition(r.id, MessageState.SUBMITTED, float(n)))
            if n % 3 == 2:
                ops.append(Transition(r.id, MessageState.DELIVERED, float(n)))
            await journal.commit(ops)
        first = [(i.action, i.record.id) for i in iter_replay(journal, batch=4)]
    async with open_journal(config) as journal:
        second = [(i.action, i.record.id) for i in iter_replay(journal, batch=7)]
        third = [(i.action, i.record.id) for i in iter_replay(journal)]
    assert first == second == third
    assert len(first) == 20 and len({i for _, i in first}) == 20
    assert sum(1 for a, _ in first if a is ReplayAction.RESEND) == 10


async def test_a_message_moving_during_the_scan_is_yielded_once(journal, make_record) -> None:
    records = [make_record() for _ in range(10)]
    await journal.commit([PutMessage(r) for r in records])
    seen = []
    for item in iter_replay(journal, batch=3):
        seen.append(item.record.id)
        if item.action is ReplayAction.ROUTE:
            # the switch already handles it: ACCEPTED -> SUBMITTED while the scan goes on
            await journal.commit([Transition(item.record.id, MessageState.SUBMITTED, 1.0)])
    assert sorted(seen) == sorted(r.id for r in records)
