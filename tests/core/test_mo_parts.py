"""The memory that sends a long MO's later parts where its first part went (core/mo_parts)."""

from __future__ import annotations

from smsswitch.core.mo_parts import MoParts, concat_part
from smsswitch.routing.decisions import MoDecision
from smsswitch.smpp.concat import build_concat_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI, Tag
from smsswitch.smpp.pdu import DeliverSm

ACME = MoDecision(rule="acme-keyword", action="deliver", tenant="acme", keyword="60682")


def test_parts_are_read_from_udh_and_sar_tlvs() -> None:
    udh8 = DeliverSm(esm_class=ESM_CLASS_UDHI, short_message=build_concat_udh(0x5A, 3, 2) + b"text")
    udh16 = DeliverSm(esm_class=ESM_CLASS_UDHI, short_message=build_concat_udh(0x1234, 4, 4, sixteen_bit=True) + b"x")
    in_payload = DeliverSm(esm_class=ESM_CLASS_UDHI)
    in_payload.tlvs[Tag.MESSAGE_PAYLOAD] = build_concat_udh(9, 2, 1) + b"y"
    sar = DeliverSm(short_message=b"plain")
    sar.tlvs.update({Tag.SAR_MSG_REF_NUM: 700, Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 2})
    assert concat_part(udh8) == (0x5A, 3, 2)
    assert concat_part(udh16) == (0x1234, 4, 4)
    assert concat_part(in_payload) == (9, 2, 1)
    assert concat_part(sar) == (700, 2, 2)


def test_whole_messages_and_broken_headers_are_not_parts() -> None:
    assert concat_part(DeliverSm(short_message=b"60682 hi")) is None
    assert concat_part(DeliverSm(esm_class=ESM_CLASS_UDHI, short_message=build_concat_udh(1, 1, 1) + b"one")) is None
    assert concat_part(DeliverSm(esm_class=ESM_CLASS_UDHI, short_message=b"\x09short")) is None  # UDHL too long
    bad_seq = DeliverSm()
    bad_seq.tlvs.update({Tag.SAR_MSG_REF_NUM: 1, Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 3})
    assert concat_part(bad_seq) is None


def test_first_part_decisions_are_kept_for_a_while_and_bounded() -> None:
    parts = MoParts(limit=2, remember=100.0)
    parts.first_part("a", ACME, 0.0)
    assert parts.decision_for("a", 50.0) == ACME
    assert parts.decision_for("a", 100.5) is None  # forgotten after `remember`
    parts.first_part("b", ACME, 1.0)
    parts.first_part("c", ACME, 2.0)
    parts.first_part("d", ACME, 3.0)
    assert len(parts) == 2 and parts.decision_for("b", 3.0) is None  # the oldest went first


def test_a_later_part_may_wait_part_wait_seconds_from_its_first_refusal() -> None:
    parts = MoParts(part_wait=60.0)
    assert parts.may_wait("k", 2, 0.0)
    assert parts.may_wait("k", 2, 30.0)  # the carrier's retry: still within the wait
    assert parts.may_wait("k", 3, 30.0)  # each part counts from its own first refusal
    assert not parts.may_wait("k", 2, 61.0)  # waited long enough: route it as it is
    parts.done_waiting("k", 3)
    assert parts.may_wait("k", 3, 90.0)  # a fresh wait after its first part came and went
