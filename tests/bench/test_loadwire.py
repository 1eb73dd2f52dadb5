"""The load client's raw octets are the same SMPP 3.4 as the project's codec (and smpplib)."""

from __future__ import annotations

import pytest
import smpplib.smpp

from smsswitch import loadwire as wire
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.constants import ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_UDHI, CommandStatus, Tag
from smsswitch.smpp.pdu import DeliverSm, DeliverSmResp, EnquireLinkResp, GenericNack, SubmitSm, SubmitSmResp


class _Client:
    """smpplib wants a client object to number requests."""

    def next_sequence(self) -> int:
        return 1


@pytest.mark.parametrize("esm,dc,sm", [
    (0, 0, b"0000001 The quick brown fox" * 5 + b"0123456789"),
    (0, 8, "Привет мир".encode("utf-16-be")),
    (ESM_CLASS_UDHI, 0, bytes([5, 0, 3, 7, 3, 2]) + b"x" * 153),
    (0, 0, b""),
])  # fmt: skip
def test_submit_sm_decodes_to_the_fields_it_was_built_from(esm: int, dc: int, sm: bytes) -> None:
    frame = wire.SubmitSmBuilder("BENCH").build(0x7FFFFFFF, b"263771000123", esm, dc, sm)
    ours = decode_pdu(frame)
    expected = SubmitSm(
        sequence_number=0x7FFFFFFF, source_addr="BENCH", source_addr_ton=5, source_addr_npi=0,
        destination_addr="263771000123", dest_addr_ton=1, dest_addr_npi=1, esm_class=esm,
        registered_delivery=1, data_coding=dc, short_message=sm,
    )  # fmt: skip
    assert ours == expected
    assert frame == encode_pdu(expected)  # the same octets as the codec's
    theirs = smpplib.smpp.parse_pdu(frame, client=_Client())
    assert (theirs.command, theirs.sequence, theirs.destination_addr, theirs.short_message or b"") == (
        "submit_sm", 0x7FFFFFFF, b"263771000123", sm
    )  # smpplib reads an empty short_message as None


def test_receipted_message_id_of_a_receipt_among_other_fields_and_tlvs() -> None:
    receipt = DeliverSm(
        sequence_number=9, service_type="CMT", source_addr="263771000123", destination_addr="BENCH",
        esm_class=ESM_CLASS_DELIVERY_RECEIPT, schedule_delivery_time="", validity_period="",
        short_message=b"id:5f0c2a9e sub:001 dlvrd:001 stat:DELIVRD err:000 text:",
    )  # fmt: skip
    receipt.tlvs[Tag.USER_MESSAGE_REFERENCE] = 7
    receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] = "5f0c2a9e-0001"
    receipt.tlvs[Tag.MESSAGE_STATE] = 2
    assert wire.receipted_message_id(encode_pdu(receipt)) == "5f0c2a9e-0001"


def test_a_deliver_sm_without_the_tlv_is_not_a_receipt() -> None:
    mo = DeliverSm(sequence_number=3, source_addr="263771000123", destination_addr="60682", short_message=b"hi")
    mo.tlvs[Tag.MESSAGE_PAYLOAD] = b"\x00\x1e" * 10  # octets that look like the tag inside a value
    assert wire.receipted_message_id(encode_pdu(mo)) is None


def test_a_cut_deliver_sm_raises() -> None:
    frame = encode_pdu(DeliverSm(sequence_number=3, source_addr="1", destination_addr="2"))
    with pytest.raises((ValueError, IndexError)):
        wire.receipted_message_id(frame[:20])


def test_responses_and_message_id() -> None:
    assert decode_pdu(wire.deliver_sm_resp(12)) == DeliverSmResp(sequence_number=12)
    assert decode_pdu(wire.response(wire.ENQUIRE_LINK_RESP, 5)) == EnquireLinkResp(sequence_number=5)
    nack = decode_pdu(wire.unsupported(8))
    assert nack == GenericNack(sequence_number=8, command_status=CommandStatus.ESME_RINVCMDID)
    assert wire.message_id(encode_pdu(SubmitSmResp(sequence_number=4, message_id="abc-123"))) == "abc-123"
    assert wire.message_id(encode_pdu(SubmitSmResp(sequence_number=4, command_status=CommandStatus.ESME_RTHROTTLED))) == ""
