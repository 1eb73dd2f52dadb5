"""The writer's cheaper per-message paths keep the journal's promises: one correlation key
per carrier id still matches hex and decimal receipts, journals with the older variant keys
stay clean, and an ack or a replaced outbox entry leaves no stale index entry."""

from __future__ import annotations

from smsswitch.journal import (
    AckOutbox,
    AddOutbox,
    Correlate,
    DeleteMessage,
    MessageState,
    PutMessage,
    Transition,
)
from smsswitch.journal import keys


async def test_one_correlation_key_per_carrier_id_matches_every_form(journal, make_record) -> None:
    hexed, decimal = make_record(), make_record()
    await journal.commit([PutMessage(hexed), PutMessage(decimal)])
    await journal.commit(
        [
            Transition(hexed.id, MessageState.ENROUTE, 1.0, connector="c", carrier_id="16FEE0E525"),
            Transition(decimal.id, MessageState.ENROUTE, 1.0, connector="d", carrier_id="0268435457"),
        ]
    )
    assert journal.counts()["correlation"] == 2
    for shown in ("16fee0e525", "0016FEE0E525", "98765432101"):
        assert journal.lookup_carrier_id("c", shown) == hexed.id
    for shown in ("268435457", "10000001"):
        assert journal.lookup_carrier_id("d", shown) == decimal.id
    assert journal.check() == []


async def test_variant_keys_of_older_journals_go_with_their_message(journal, make_record) -> None:
    record = make_record()
    await journal.commit([PutMessage(record), Correlate(record.id, "c", "255")])
    store, ours = journal.store, record.id.encode()
    with store.env.begin(write=True) as txn:  # what the writer filed before one-key correlation
        for form in ("ff", "597"):
            txn.put(keys.correlation_key("c", form), keys.CORR_VARIANT + ours, db=store.correlation)
    assert journal.lookup_carrier_id("c", "597") == record.id
    assert await journal.commit([DeleteMessage(record.id)]) == [True]
    assert journal.counts()["correlation"] == 0
    assert journal.check() == []


async def test_ack_removes_the_entry_and_its_indexes(journal, make_entry) -> None:
    entry = make_entry(msisdn="+263771234567")
    assert await journal.commit([AddOutbox(entry)]) == [True]
    assert await journal.commit([AckOutbox(entry.id), AckOutbox(entry.id)]) == [True, False]
    counts = journal.counts()
    assert (counts["outbox"], counts["by_msisdn"]) == (0, 0)
    assert journal.outbox_for(entry.tenant) == []
    assert journal.check() == []


async def test_replacing_an_outbox_entry_moves_its_indexes(journal, make_entry) -> None:
    entry = make_entry(msisdn="+263771234567")
    await journal.commit([AddOutbox(entry)])
    moved = make_entry(id=entry.id, tenant="other", msisdn="+263779999999")
    assert await journal.commit([AddOutbox(moved)]) == [False]
    assert journal.outbox_for(entry.tenant) == [] and journal.outbox_for("other") == [moved]
    assert journal.counts()["by_msisdn"] == 1
    assert journal.check() == []


async def test_transition_keeps_state_index_and_attempts(journal, make_record) -> None:
    record = make_record(state=MessageState.QUEUED, validity=5000.0)
    await journal.commit([PutMessage(record)])
    assert await journal.commit(
        [Transition(record.id, MessageState.ENROUTE, 2.0, connector="c", carrier_id="1", count_attempt=True)]
    ) == [True]
    got = journal.get(record.id)
    assert got is not None and got.state is MessageState.ENROUTE and got.attempts == 1 and got.due == 5000.0
    assert [h.state for h in got.history][-1] is MessageState.ENROUTE
    counts = journal.counts()
    assert (counts["state.queued"], counts["state.enroute"]) == (0, 1)
    assert journal.check() == []
