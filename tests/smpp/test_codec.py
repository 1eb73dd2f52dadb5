"""Round trips and exact wire bytes for every SMPP 3.4 PDU the codec knows."""

from __future__ import annotations

import struct

import pytest

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import decode_pdu, encode_pdu, peek_header
from smsswitch.smpp.constants import (
    ESM_CLASS_DELIVERY_RECEIPT,
    CommandId,
    CommandStatus,
    MessageState,
    Tag,
)
from smsswitch.smpp.errors import PduEncodeError, PduError

SAMPLES: list[P.Pdu] = [
    P.BindTransmitter(1, system_id="tenant1", password="secret", system_type="VMA",
                      addr_ton=1, addr_npi=1, address_range="^49"),
    P.BindTransmitterResp(1, system_id="smsswitch", tlvs={Tag.SC_INTERFACE_VERSION: 0x34}),
    P.BindReceiver(2, system_id="rx", password="pw"),
    P.BindReceiverResp(2, system_id="smsc"),
    P.BindTransceiver(3, system_id="trx", password="12345678", interface_version=0x34),
    P.BindTransceiverResp(3, command_status=CommandStatus.ESME_RBINDFAIL),
    P.Outbind(4, system_id="smsc", password="pw"),
    P.Unbind(5),
    P.UnbindResp(5),
    P.EnquireLink(0x7FFFFFFF),
    P.EnquireLinkResp(0x7FFFFFFF),
    P.GenericNack(6, command_status=CommandStatus.ESME_RINVCMDID),
    P.SubmitSm(7, service_type="CMT", source_addr_ton=5, source_addr="Brand", dest_addr_ton=1,
               dest_addr_npi=1, destination_addr="4915112345678", esm_class=0x40,
               registered_delivery=1, data_coding=8, short_message=bytes(range(140)),
               validity_period="000001000000000R",
               tlvs={Tag.USER_MESSAGE_REFERENCE: 513, 0x1401: b"\x00vendor"}),
    P.SubmitSmResp(7, message_id="0a1b2c3d"),
    P.SubmitMulti(8, source_addr="123", short_message=b"hello",
                  dest_address=[P.SmeAddress(1, 1, "4915100000001"), P.DistributionList("team")]),
    P.SubmitMultiResp(8, message_id="m-1", unsuccess_smes=[
        P.UnsuccessSme(1, 1, "4915100000001", CommandStatus.ESME_RINVDSTADR)]),
    P.DeliverSm(9, source_addr="4915112345678", destination_addr="12345",
                esm_class=ESM_CLASS_DELIVERY_RECEIPT, short_message=b"id:1 stat:DELIVRD",
                tlvs={Tag.RECEIPTED_MESSAGE_ID: "abc123", Tag.MESSAGE_STATE: MessageState.DELIVERED,
                      Tag.NETWORK_ERROR_CODE: b"\x03\x00\x00"}),
    P.DeliverSmResp(9),
    P.DataSm(10, source_addr="a" * 64, destination_addr="b" * 64, data_coding=4,
             tlvs={Tag.MESSAGE_PAYLOAD: b"x" * 1000, Tag.QOS_TIME_TO_LIVE: 0xFFFFFFFF}),
    P.DataSmResp(10, message_id="d1", tlvs={Tag.ADDITIONAL_STATUS_INFO_TEXT: "ok"}),
    P.QuerySm(11, message_id="q1", source_addr="123"),
    P.QuerySmResp(11, message_id="q1", final_date="240101120000000+",
                  message_state=MessageState.DELIVERED, error_code=0),
    P.CancelSm(12, message_id="c1", source_addr="1", destination_addr="2"),
    P.CancelSmResp(12),
    P.ReplaceSm(13, message_id="r1", source_addr="1", short_message=b"new"),
    P.ReplaceSmResp(13),
    P.AlertNotification(14, source_addr="4915112345678", esme_addr="tenant",
                        tlvs={Tag.MS_AVAILABILITY_STATUS: 0}),
]


def test_samples_cover_every_pdu_class() -> None:
    assert {type(p) for p in SAMPLES} == set(P.PDU_CLASSES.values())
    assert len(P.PDU_CLASSES) == 27


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: type(p).__name__)
def test_round_trip(sample: P.Pdu) -> None:
    frame = encode_pdu(sample)
    length, command_id, status, seq = peek_header(frame)
    assert length == len(frame)
    assert command_id == sample.command_id
    assert status == sample.command_status
    assert seq == sample.sequence_number
    decoded = decode_pdu(frame)
    assert decoded == sample
    assert list(decoded.tlvs) == list(sample.tlvs)
    assert encode_pdu(decoded) == frame


def test_submit_sm_exact_bytes() -> None:
    pdu = P.SubmitSm(1, source_addr="1", destination_addr="2", short_message=b"hi")
    body = b"\0" + b"\0\0" + b"1\0" + b"\0\0" + b"2\0" + b"\0\0\0" + b"\0" + b"\0" + b"\0\0\0\0" + b"\x02hi"
    assert encode_pdu(pdu) == struct.pack(">IIII", 16 + len(body), 4, 0, 1) + body


def test_enquire_link_is_header_only() -> None:
    assert encode_pdu(P.EnquireLink(42)) == struct.pack(">IIII", 16, 0x15, 0, 42)


def test_bind_emits_interface_version_34_by_default() -> None:
    frame = encode_pdu(P.BindTransceiver(1, system_id="a", password="b"))
    assert frame[16:] == b"a\0b\0\0\x34\0\0\0"


def test_unknown_tlvs_keep_order_and_bytes() -> None:
    tail = (
        struct.pack(">HH", 0x1500, 3) + b"abc"
        + struct.pack(">HH", Tag.SAR_MSG_REF_NUM, 2) + b"\x01\x02"
        + struct.pack(">HH", 0x0001, 0)
    )
    frame = encode_pdu(P.DeliverSm(5, short_message=b"x"))
    frame = struct.pack(">I", len(frame) + len(tail)) + frame[4:] + tail
    decoded = decode_pdu(frame)
    assert list(decoded.tlvs.items()) == [(0x1500, b"abc"), (Tag.SAR_MSG_REF_NUM, 0x0102), (1, b"")]
    assert encode_pdu(decoded) == frame


def test_make_response_pairs_every_request() -> None:
    for cls in P.PDU_CLASSES.values():
        request = cls(sequence_number=99)
        if cls.is_response or cls in (P.Outbind, P.AlertNotification):
            assert cls.response_class is None
            with pytest.raises(ValueError):
                P.make_response(request)
            continue
        response = P.make_response(request, CommandStatus.ESME_RTHROTTLED)
        assert response.command_id == cls.command_id | 0x80000000
        assert response.sequence_number == 99
        assert response.command_status == CommandStatus.ESME_RTHROTTLED
        assert P.is_response(response) and not P.is_response(request)


def test_make_response_passes_fields() -> None:
    resp = P.make_response(P.SubmitSm(3), message_id="abc")
    assert resp == P.SubmitSmResp(3, message_id="abc")


def test_is_response_accepts_ids_classes_and_instances() -> None:
    assert P.is_response(CommandId.GENERIC_NACK)
    assert P.is_response(P.SubmitSmResp)
    assert not P.is_response(P.DeliverSm(1))
    assert P.SubmitSmResp.is_response and not P.SubmitSm.is_response


def test_decode_accepts_bytearray_and_memoryview() -> None:
    frame = encode_pdu(SAMPLES[12])
    assert decode_pdu(bytearray(frame)) == SAMPLES[12]
    assert decode_pdu(memoryview(frame)) == SAMPLES[12]
    assert type(decode_pdu(bytearray(frame)).short_message) is bytes


@pytest.mark.parametrize(
    "pdu",
    [
        P.SubmitSm(1, source_addr="x" * 21),
        P.SubmitSm(1, destination_addr="1\x002"),
        P.SubmitSm(1, short_message=b"x" * 255),
        P.SubmitSm(1, source_addr="Ω"),
        P.SubmitSm(1, esm_class=256),
        P.SubmitSm(-1),
        P.BindTransmitter(1, system_id="s" * 16),
        P.SubmitSm(1, tlvs={0x1400: 5}),
        P.SubmitSm(1, tlvs={Tag.SAR_MSG_REF_NUM: 70000}),
        P.SubmitMulti(1, dest_address=[]),
    ],
)
def test_encode_refuses_what_cannot_go_on_the_wire(pdu: P.Pdu) -> None:
    with pytest.raises(PduEncodeError):
        encode_pdu(pdu)


def test_encode_refuses_non_pdu() -> None:
    with pytest.raises(PduEncodeError):
        encode_pdu("not a pdu")  # type: ignore[arg-type]


def test_error_response_without_body_decodes() -> None:
    """Carriers send submit_sm_resp / bind_resp with an error status and no body at all."""
    for command_id in (0x80000004, 0x80000002, 0x80000103, 0x80000003, 0x80000021):
        frame = struct.pack(">IIII", 16, command_id, CommandStatus.ESME_RTHROTTLED, 77)
        decoded = decode_pdu(frame)
        assert decoded.command_status == CommandStatus.ESME_RTHROTTLED
        assert decoded.sequence_number == 77
        assert decoded.command_id == command_id


def test_response_message_id_without_nul_is_accepted() -> None:
    frame = struct.pack(">IIII", 16 + 5, 0x80000004, 0, 3) + b"abcde"
    assert decode_pdu(frame) == P.SubmitSmResp(3, message_id="abcde")


def test_response_message_id_longer_than_spec_is_accepted() -> None:
    long_id = "m" * 80
    frame = struct.pack(">IIII", 16 + 81, 0x80000004, 0, 3) + long_id.encode() + b"\0"
    assert decode_pdu(frame).message_id == long_id


def test_deliver_sm_resp_with_message_id_is_accepted() -> None:
    frame = struct.pack(">IIII", 16 + 3, 0x80000005, 0, 3) + b"42\0"
    assert decode_pdu(frame) == P.DeliverSmResp(3, message_id="42")


def test_short_message_of_255_octets_is_read() -> None:
    good = encode_pdu(P.DeliverSm(1, short_message=b"x" * 254))
    # patch sm_length to 255 and add one octet: some SMSCs do this.
    sm_len_at = len(good) - 254 - 1
    frame = bytearray(good[:sm_len_at]) + b"\xff" + b"x" * 255
    frame[0:4] = struct.pack(">I", len(frame))
    assert decode_pdu(bytes(frame)).short_message == b"x" * 255


def test_any_interface_version_is_accepted() -> None:
    for version in (0x33, 0x34, 0x50):
        frame = encode_pdu(P.BindTransmitter(1, system_id="a", interface_version=version))
        assert decode_pdu(frame).interface_version == version


def test_cstring_at_max_size_is_accepted() -> None:
    sample = P.BindTransmitter(1, system_id="s" * 15, password="p" * 8, system_type="t" * 12,
                               address_range="r" * 40)
    assert decode_pdu(encode_pdu(sample)) == sample


def test_decode_error_carries_sequence_and_command() -> None:
    frame = struct.pack(">IIII", 16, 0x00000999, 0, 1234)
    with pytest.raises(PduError) as info:
        decode_pdu(frame)
    assert info.value.status == CommandStatus.ESME_RINVCMDID
    assert info.value.sequence_number == 1234
    assert info.value.command_id == 0x999
    assert info.value.generic_nack is True
