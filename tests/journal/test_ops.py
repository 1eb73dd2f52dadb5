"""Every op type through the real group-commit path, with index consistency checked after."""

from __future__ import annotations

import time

import attrs
import pytest

from smsswitch.journal import (
    AckOutbox,
    AddOutbox,
    Correlate,
    DeadLetterKind,
    DeadLetterMessage,
    DeadLetterOutbox,
    DeleteDeadLetter,
    DeleteMessage,
    InvalidOperationError,
    MessageState,
    PutMessage,
    Redrive,
    RescheduleOutbox,
    Transition,
)
from smsswitch.journal.keys import TAG_MESSAGE, msisdn_digits
from smsswitch.smpp.constants import CommandStatus


async def test_put_message_is_readable_and_indexed(journal, make_record) -> None:
    record = make_record(source="+263771999999")
    assert await journal.commit([PutMessage(record)]) == [True]
    stored = journal.get(record.id)
    assert stored.payload == b"hello" and stored.state is MessageState.ACCEPTED
    assert [h.state for h in stored.history] == [MessageState.ACCEPTED]
    with journal.read() as txn:
        assert list(journal.store.iter_tenant_messages(txn, "acme")) == [record.id]
        for number in (record.source, record.destination):
            assert list(journal.store.iter_msisdn(txn, msisdn_digits(number))) == [(TAG_MESSAGE, record.id)]
    assert journal.counts()["state.accepted"] == 1
    assert journal.check() == []


async def test_put_again_replaces_and_reindexes(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record)])
    moved = attrs.evolve(record, destination="+263775555555", state=MessageState.QUEUED, history=())
    assert await journal.commit([PutMessage(moved)]) == [False]
    assert journal.get(record.id).destination == "+263775555555"
    counts = journal.counts()
    assert counts["messages"] == 1 and counts["state.accepted"] == 0 and counts["state.queued"] == 1
    assert journal.check() == []


async def test_transitions_record_history_attempts_and_state_index(journal, make_record) -> None:
    record = make_record(validity=time.time() + 3600)
    await journal.commit([PutMessage(record)])
    t = time.time()
    results = await journal.commit(
        [
            Transition(record.id, MessageState.QUEUED, t, route="zw", connector="econet-1"),
            Transition(record.id, MessageState.SUBMITTED, t + 0.1, count_attempt=True),
        ]
    )
    assert results == [True, True]
    stored = journal.get(record.id)
    assert stored.state is MessageState.SUBMITTED and stored.attempts == 1
    assert (stored.route, stored.connector) == ("zw", "econet-1")
    assert [h.state for h in stored.history] == [MessageState.ACCEPTED, MessageState.QUEUED, MessageState.SUBMITTED]
    # In flight, the by-state index orders by expiry (validity).
    assert stored.due == record.validity
    assert [m.id for m in journal.due(MessageState.SUBMITTED, until=record.validity)] == [record.id]
    assert journal.due(MessageState.SUBMITTED, until=record.validity - 1) == []
    assert journal.check() == []


async def test_terminal_state_is_final_and_duplicates_add_nothing(journal, make_record, make_entry) -> None:
    record = make_record()
    await journal.commit([PutMessage(record)])
    receipt = make_entry(message_id=record.id)
    final = Transition(record.id, MessageState.DELIVERED, time.time(), on_applied=(AddOutbox(receipt),))
    assert await journal.commit([final]) == [True]
    duplicate = Transition(record.id, MessageState.DELIVERED, time.time(), on_applied=(AddOutbox(attrs.evolve(receipt, id=journal.new_id())),))
    late = Transition(record.id, MessageState.ENROUTE, time.time())
    assert await journal.commit([duplicate, late]) == [False, False]
    assert journal.get(record.id).state is MessageState.DELIVERED
    assert [e.id for e in journal.outbox_for("acme")] == [receipt.id]
    assert await journal.commit([Transition("0" * 20, MessageState.QUEUED, 1.0)]) == [False]


async def test_expect_guards_a_compare_and_set(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record)])
    only_from_submitted = frozenset({MessageState.SUBMITTED})
    assert await journal.commit([Transition(record.id, MessageState.ENROUTE, 1.0, expect=only_from_submitted)]) == [False]
    assert journal.get(record.id).state is MessageState.ACCEPTED


async def test_correlation_finds_hex_and_decimal_forms(journal, make_record) -> None:
    a, b = make_record(), make_record()
    await journal.commit([PutMessage(a), PutMessage(b)])
    await journal.commit(
        [
            Transition(a.id, MessageState.ENROUTE, 1.0, connector="econet-1", carrier_id="00FF"),
            Correlate(b.id, "telone-1", "4096"),
        ]
    )
    for shown in ("ff", "FF", "00ff", "255"):
        assert journal.lookup_carrier_id("econet-1", shown) == a.id
    for shown in ("4096", "1000"):
        assert journal.lookup_carrier_id("telone-1", shown) == b.id
    assert journal.lookup_carrier_id("telone-1", "ff") is None  # scoped per connector
    assert journal.find_by_carrier_id("econet-1", "255").id == a.id
    assert journal.check() == []


async def test_a_literal_carrier_id_beats_another_messages_variant(journal, make_record) -> None:
    # "10" (decimal) has hex variant "a"; a later message whose carrier id really is "a"
    # must win the "a" key, and the first message must keep its own literal "10".
    first, second = make_record(), make_record()
    await journal.commit([PutMessage(first), PutMessage(second)])
    await journal.commit([Correlate(first.id, "c", "10")])
    await journal.commit([Correlate(second.id, "c", "a")])
    assert journal.lookup_carrier_id("c", "a") == second.id
    assert journal.lookup_carrier_id("c", "10") == first.id
    # ... and a variant never overwrites a literal.
    third = make_record()
    await journal.commit([PutMessage(third), Correlate(third.id, "c", "0a")])
    assert journal.lookup_carrier_id("c", "10") == first.id


async def test_resend_keeps_earlier_carrier_ids_until_the_message_goes(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record), Correlate(record.id, "c1", "111")])
    await journal.commit([Transition(record.id, MessageState.ENROUTE, 2.0, connector="c2", carrier_id="222")])
    assert journal.lookup_carrier_id("c1", "111") == record.id
    assert journal.lookup_carrier_id("c2", "222") == record.id
    assert journal.get(record.id).previous_carriers == (("c1", "111"),)
    assert await journal.commit([DeleteMessage(record.id)]) == [True]
    assert journal.lookup_carrier_id("c1", "111") is None
    assert journal.counts()["correlation"] == 0
    assert journal.check() == []


async def test_delete_message_removes_every_trace(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record), Correlate(record.id, "c", "77"), DeadLetterMessage(record.id, "no route", 1.0)])
    assert await journal.commit([DeleteMessage(record.id), DeleteMessage(record.id)]) == [True, False]
    counts = journal.counts()
    assert counts["messages"] == counts["by_msisdn"] == counts["by_tenant"] == counts["dead_letters"] == 0
    assert sum(v for k, v in counts.items() if k.startswith("state.")) == 0
    assert journal.check() == []


async def test_outbox_add_reschedule_ack(journal, make_entry) -> None:
    first, second = make_entry(), make_entry()
    other = make_entry(tenant="globex")
    assert await journal.commit([AddOutbox(first), AddOutbox(second), AddOutbox(other)]) == [True, True, True]
    assert [e.id for e in journal.outbox_for("acme")] == [first.id, second.id]  # oldest first
    assert await journal.commit([RescheduleOutbox(first.id, next_attempt=50.0)]) == [True]
    assert journal.get_outbox(first.id).attempts == 1 and journal.get_outbox(first.id).next_attempt == 50.0
    assert await journal.commit([AckOutbox(first.id), AckOutbox(first.id)]) == [True, False]
    assert [e.id for e in journal.outbox_for("acme")] == [second.id]
    assert journal.outbox_for("globex")[0].id == other.id
    assert journal.check() == []


async def test_outbox_dead_letter_and_redrive(journal, make_entry) -> None:
    entry = make_entry(expires=10.0, attempts=5)
    await journal.commit([AddOutbox(entry)])
    assert await journal.commit([DeadLetterOutbox(entry.id, "expired", 11.0)]) == [True]
    assert journal.outbox_for("acme") == []
    (letter,) = journal.dead_letters()
    assert (letter.kind, letter.reason, letter.entry) == (DeadLetterKind.OUTBOX, "expired", entry)
    assert await journal.commit([Redrive(entry.id, 20.0)]) == [True]
    (back,) = journal.outbox_for("acme")
    assert (back.attempts, back.next_attempt, back.expires) == (0, 20.0, None)
    assert journal.dead_letters() == []
    assert journal.check() == []


async def test_message_dead_letter_redrive_returns_it_to_accepted(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record)])
    await journal.commit(
        [
            Transition(record.id, MessageState.UNDELIVERABLE, 5.0, error=0x45),
            DeadLetterMessage(record.id, "retries exhausted", 5.0),
        ]
    )
    assert journal.dead_letters()[0].message_id == record.id
    assert await journal.commit([Redrive(record.id, 6.0)]) == [True]
    stored = journal.get(record.id)
    assert stored.state is MessageState.ACCEPTED and stored.history[-1].detail == "redrive"
    assert journal.dead_letters() == []
    assert journal.check() == []


async def test_delete_dead_letter(journal, make_entry) -> None:
    entry = make_entry()
    await journal.commit([AddOutbox(entry), DeadLetterOutbox(entry.id, "gave up", 1.0)])
    assert await journal.commit([DeleteDeadLetter(entry.id), DeleteDeadLetter(entry.id)]) == [True, False]
    assert journal.counts()["by_msisdn"] == 0


async def test_a_bad_op_fails_only_its_own_request(journal, make_record) -> None:
    import trio

    good = make_record()
    bad = make_record(tenant="x" * 600)  # an LMDB key longer than 511 bytes
    outcome: dict[str, object] = {}

    async def submit(name, ops):
        try:
            outcome[name] = await journal.commit(ops)
        except InvalidOperationError as exc:
            outcome[name] = exc

    async with trio.open_nursery() as nursery:
        nursery.start_soon(submit, "bad", [PutMessage(bad)])
        nursery.start_soon(submit, "good", [PutMessage(good)])
    assert outcome["good"] == [True]
    assert isinstance(outcome["bad"], InvalidOperationError)
    assert outcome["bad"].smpp_status is CommandStatus.ESME_RSYSERR
    assert journal.get(bad.id) is None and journal.get(good.id) is not None
    assert journal.healthy and journal.check() == []


async def test_ops_of_one_request_are_atomic(journal, make_record) -> None:
    record = make_record()
    bad = make_record(tenant="y" * 600)
    with pytest.raises(InvalidOperationError):
        await journal.commit([PutMessage(record), PutMessage(bad)])
    assert journal.get(record.id) is None


async def test_moving_to_another_connector_keeps_the_old_carrier_id_findable_and_deletable(journal, make_record) -> None:
    # Found by test_consistency: a Transition naming only a new connector left the old
    # connector's correlation behind, pointing at nothing once the message was deleted.
    record = make_record(connector="c1", carrier_id="ff")
    await journal.commit([PutMessage(record)])
    await journal.commit([Transition(record.id, MessageState.QUEUED, time.time(), connector="c2")])
    assert journal.lookup_carrier_id("c1", "ff") == record.id  # a late receipt of the first try
    moved = journal.get(record.id)
    assert moved.connector == "c2" and moved.carrier_id is None and ("c1", "ff") in moved.previous_carriers
    await journal.commit([DeleteMessage(record.id)])
    assert journal.lookup_carrier_id("c1", "ff") is None
    assert journal.check() == []


async def test_a_dead_letter_replaced_under_its_id_takes_its_index_entries(journal, make_record, make_entry) -> None:
    # Found by test_consistency (ids are one space in production, so only hand-made ops collide).
    entry = make_entry()
    record = make_record(id=entry.id)
    await journal.commit([AddOutbox(entry), DeadLetterOutbox(entry.id, "expired", time.time())])
    await journal.commit([PutMessage(record), DeadLetterMessage(record.id, "no route", time.time())])
    assert journal.check() == []


async def test_deleting_a_message_takes_the_index_entries_of_a_dead_letter_under_its_id(
    journal, make_record, make_entry
) -> None:
    # Found by test_consistency: delete_message removed the dead letter under the message's id
    # but not that letter's msisdn entry (an outbox letter's; ids are one space, see above).
    entry = make_entry()
    record = make_record(id=entry.id)
    await journal.commit([AddOutbox(entry), DeadLetterOutbox(entry.id, "expired", time.time())])
    await journal.commit([PutMessage(record), DeleteMessage(record.id)])
    assert journal.check() == []
    assert journal.counts()["by_msisdn"] == journal.counts()["dead_letters"] == 0
