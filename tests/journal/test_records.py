from __future__ import annotations

import attrs
import msgpack

from smsswitch.journal.records import (
    MAX_HISTORY,
    SCHEMA_VERSION,
    DeadLetter,
    DeadLetterKind,
    HistoryEntry,
    MessageRecord,
    MessageState,
    OutboxEntry,
    OutboxKind,
    PartInfo,
    append_history,
    decode_dead_letter,
    decode_message,
    decode_outbox,
    encode_dead_letter,
    encode_message,
    encode_outbox,
    message_to_fields,
)
from smsswitch.smpp.constants import MessageState as SmppState


def full_record() -> MessageRecord:
    return MessageRecord(
        id="01a2000000000000abcd",
        tenant="acme",
        source="+263771000001",
        destination="+263772000002",
        created=1700000000.5,
        state=MessageState.ENROUTE,
        bind="bind-7",
        source_ton=1,
        source_npi=1,
        dest_ton=1,
        dest_npi=1,
        data_coding=8,
        esm_class=0x40,
        protocol_id=0,
        priority=1,
        payload=b"\x05\x00\x03\x2a\x02\x01\x00h",
        part=PartInfo(ref=42, total=2, seq=1),
        registered_delivery=1,
        validity=1700086400.0,
        schedule=None,
        route="zw-mobile",
        connector="econet-1",
        carrier_id="A1B2",
        error=None,
        history=(HistoryEntry(MessageState.ACCEPTED, 1700000000.5), HistoryEntry(MessageState.ENROUTE, 1700000001.0, "carrier ok")),
        attempts=1,
        updated=1700000001.0,
        client_ref="ref-9",
        due=1700086400.0,
        service_type="CMT",
        tlvs=((0x0204, b"\x00\x07"),),
        previous_carriers=(("econet-2", "99"),),
        template="otp",
    )


def test_message_round_trips_every_field() -> None:
    record = full_record()
    assert decode_message(encode_message(record)) == record


def test_record_is_compact() -> None:
    # No key names on disk: a typical accepted message stays small.
    record = MessageRecord(id="01a2000000000000abcd", tenant="acme", source="ACME", destination="+263772000002", created=1.0, payload=b"x" * 100)
    assert len(encode_message(record)) < 100 + 110


def test_older_schema_decodes_with_defaults() -> None:
    # A version-0 writer knew only the first fields; a version-1 reader fills in the rest.
    old = msgpack.packb([0, "01a2000000000000abcd", "acme", "ACME", "+263772000002", 5.0, 2], use_bin_type=True)
    record = decode_message(old)
    assert record.state is MessageState.QUEUED
    assert record.payload == b"" and record.history == () and record.previous_carriers == ()
    assert record.due == 0.0  # derived from the state and times


def test_record_written_before_the_template_field_decodes_without_one() -> None:
    fields = message_to_fields(full_record())[:-1]  # as written before `template` existed
    assert decode_message(msgpack.packb(fields, use_bin_type=True)) == attrs.evolve(full_record(), template=None)


def test_newer_schema_with_extra_fields_still_decodes() -> None:
    fields = message_to_fields(full_record()) + ["a field from the future", 123]
    fields[0] = SCHEMA_VERSION + 1
    assert decode_message(msgpack.packb(fields, use_bin_type=True)) == full_record()


def test_history_keeps_first_and_newest_entries() -> None:
    history: list = []
    for i in range(MAX_HISTORY + 10):
        append_history(history, 3, float(i), None)
    assert len(history) == MAX_HISTORY
    assert history[0][1] == 0.0 and history[-1][1] == float(MAX_HISTORY + 9)


def test_states_map_to_smpp_message_state() -> None:
    assert MessageState.QUEUED.smpp is SmppState.ENROUTE
    assert MessageState.SUBMITTED.smpp is SmppState.ENROUTE
    assert MessageState.DELIVERED.smpp is SmppState.DELIVERED
    assert MessageState.REJECTED.smpp is SmppState.REJECTED
    assert [s for s in MessageState if s.terminal] == [
        MessageState.DELIVERED, MessageState.UNDELIVERABLE, MessageState.EXPIRED,
        MessageState.REJECTED, MessageState.DELETED, MessageState.UNKNOWN,
    ]  # fmt: skip
    assert all(s.smpp in SmppState for s in MessageState)


def test_outbox_entry_and_dead_letter_round_trip() -> None:
    entry = OutboxEntry(
        id="01a2000000000000ffff", tenant="acme", kind=OutboxKind.MO,
        payload={"source": "+263771000001", "short_message": b"STOP"}, created=3.0,
        attempts=2, next_attempt=9.0, expires=99.0, msisdn="+263771000001", message_id=None,
    )  # fmt: skip
    assert decode_outbox(encode_outbox(entry)) == entry
    letter = DeadLetter(id=entry.id, kind=DeadLetterKind.OUTBOX, reason="expired", at=100.0, entry=entry, tenant="acme", msisdn=entry.msisdn)
    assert decode_dead_letter(encode_dead_letter(letter)) == letter
