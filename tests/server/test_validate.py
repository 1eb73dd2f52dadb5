"""submit_sm / submit_multi / data_sm validation: the precise status for each bad field."""

from __future__ import annotations

import calendar
from typing import Any

import pytest

from smsswitch.server.api import SubmitRequest
from smsswitch.server.tenants import TenantDirectory, TenantEntry
from smsswitch.server.validate import (
    MultiPlan,
    validate_data_sm,
    validate_replace_sm,
    validate_submit_multi,
    validate_submit_sm,
)
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import Tag
from smsswitch.smpp.pdu import DataSm, DistributionList, ReplaceSm, SmeAddress, SubmitMulti, SubmitSm
from tests.server.conftest import DEST, DEST_NATIONAL_ZW, make_tenant

NOW = calendar.timegm((2024, 1, 31, 12, 0, 0, 0, 0, 0))


def entry(**overrides: Any) -> TenantEntry:
    found = TenantDirectory([make_tenant(**overrides)]).get("acme")
    assert found is not None
    return found


def submit(**fields: Any) -> SubmitSm:
    values: dict[str, Any] = dict(source_addr="Brand", source_addr_ton=5, destination_addr=DEST,
                                  dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello")
    values.update(fields)
    return SubmitSm(**values)


def test_good_submit_carries_parsed_numbers() -> None:
    request = validate_submit_sm(submit(tlvs={Tag.USER_MESSAGE_REFERENCE: 7, Tag.SOURCE_PORT: 80}), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.destination.e164 == "+4915112345678"
    assert request.source.kind == "alphanumeric" and request.source.raw == "Brand"
    assert request.payload == b"hello" and request.part is None
    assert request.client_reference == "7"
    assert request.tlvs == {Tag.USER_MESSAGE_REFERENCE: 7, Tag.SOURCE_PORT: 80}  # carried on


def test_national_destination_uses_tenant_region() -> None:
    request = validate_submit_sm(submit(destination_addr=DEST_NATIONAL_ZW, dest_addr_ton=2), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.destination.e164 == "+263771234567"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"destination_addr": ""}, S.ESME_RINVDSTADR),
        ({"destination_addr": "49000000000001"}, S.ESME_RINVDSTADR),  # not a valid number
        ({"destination_addr": "Brand", "dest_addr_ton": 5}, S.ESME_RINVDSTADR),
        ({"dest_addr_ton": 9}, S.ESME_RINVDSTTON),
        ({"dest_addr_npi": 2}, S.ESME_RINVDSTNPI),
        ({"source_addr": ""}, S.ESME_RINVSRCADR),
        ({"source_addr": "TwelveChars!"}, S.ESME_RINVSRCADR),  # alphanumeric above 11
        ({"source_addr_ton": 7}, S.ESME_RINVSRCTON),
        ({"source_addr_npi": 5}, S.ESME_RINVSRCNPI),
        ({"data_coding": 0x0B}, S.ESME_RINVDCS),
        ({"data_coding": 0x08, "short_message": b"\x00A\x00"}, S.ESME_RINVMSGLEN),  # odd UCS2
        ({"esm_class": 0x02}, S.ESME_RINVESMCLASS),  # forward (transaction) mode
        ({"esm_class": 0x04}, S.ESME_RINVESMCLASS),  # delivery receipt type: SMSC→ESME only
        ({"esm_class": 0x40, "short_message": b"\x09\x00\x03"}, S.ESME_RINVMSGLEN),  # UDHL past end
        ({"registered_delivery": 0x03}, S.ESME_RINVREGDLVFLG),
        ({"registered_delivery": 0x21}, S.ESME_RINVREGDLVFLG),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"sm_default_msg_id": 1}, S.ESME_RINVDFTMSGID),
        ({"validity_period": "2401311200000"}, S.ESME_RINVEXPIRY),
        ({"validity_period": "241331120000000+"}, S.ESME_RINVEXPIRY),
        ({"validity_period": "230101120000000+"}, S.ESME_RINVEXPIRY),  # already past
        ({"schedule_delivery_time": "240131130000000+", "validity_period": "240131121000000+"},
         S.ESME_RINVEXPIRY),  # expires before it is due
        ({"schedule_delivery_time": "24013112000000X"}, S.ESME_RINVSCHED),
        ({"schedule_delivery_time": "000000000100000Q"}, S.ESME_RINVSCHED),
        ({"tlvs": {Tag.MESSAGE_PAYLOAD: b"long"}}, S.ESME_RINVPARLEN),  # both bodies set
        ({"tlvs": {Tag.SAR_MSG_REF_NUM: 1, Tag.SAR_TOTAL_SEGMENTS: 2}}, S.ESME_RMISSINGOPTPARAM),
        ({"tlvs": {Tag.SAR_MSG_REF_NUM: 1, Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 3}},
         S.ESME_RINVOPTPARAMVAL),
    ],
)
def test_refusals(fields: dict[str, Any], status: int) -> None:
    assert validate_submit_sm(submit(**fields), entry(), NOW) == status


def test_allowed_senders_globs_and_e164() -> None:
    tenant = entry(allowed_senders=("Brand", "Promo*", "+26377*"))
    assert isinstance(validate_submit_sm(submit(source_addr="brand"), tenant, NOW), SubmitRequest)
    assert isinstance(validate_submit_sm(submit(source_addr="PromoX"), tenant, NOW), SubmitRequest)
    national = submit(source_addr="0771234567", source_addr_ton=2, source_addr_npi=1)
    assert isinstance(validate_submit_sm(national, tenant, NOW), SubmitRequest)
    assert validate_submit_sm(submit(source_addr="Other"), tenant, NOW) == S.ESME_RINVSRCADR


@pytest.mark.parametrize(
    ("fields", "validity", "schedule"),
    [
        ({"validity_period": "000001000000000R"}, NOW + 86400, None),
        ({"validity_period": "240201120000004+"}, NOW + 86400 - 3600, None),
        ({"schedule_delivery_time": "000000010000000R"}, None, NOW + 3600),
        ({"validity_period": "000000000000000R"}, None, None),
    ],
)
def test_times(fields: dict[str, Any], validity: float | None, schedule: float | None) -> None:
    request = validate_submit_sm(submit(**fields), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert (request.validity, request.schedule) == (validity, schedule)


def test_empty_body_is_fine() -> None:
    request = validate_submit_sm(submit(short_message=b""), entry(), NOW)
    assert isinstance(request, SubmitRequest) and request.payload == b""


def test_long_message_parts_from_udh_sar_and_payload() -> None:
    udh = bytes([5, 0, 3, 0x2A, 3, 2])
    request = validate_submit_sm(submit(esm_class=0x40, short_message=udh + b"part two"), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.part == (0x2A, 3, 2) and request.payload == udh + b"part two"
    sar = {Tag.SAR_MSG_REF_NUM: 0x1234, Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 1}
    request = validate_submit_sm(submit(tlvs=sar), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.part == (0x1234, 2, 1) and request.tlvs == {}
    request = validate_submit_sm(submit(short_message=b"", tlvs={Tag.MESSAGE_PAYLOAD: b"x" * 400}), entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.payload == b"x" * 400 and Tag.MESSAGE_PAYLOAD not in request.tlvs


def test_submit_multi_mixed_destinations() -> None:
    pdu = SubmitMulti(
        source_addr="Brand", source_addr_ton=5, short_message=b"hi",
        dest_address=[SmeAddress(1, 1, DEST), SmeAddress(1, 1, "49000000000001"),
                      DistributionList("friends"), SmeAddress(2, 1, DEST_NATIONAL_ZW)],
    )
    plan = validate_submit_multi(pdu, entry(), NOW)
    assert isinstance(plan, MultiPlan)
    assert [r.destination.e164 for r in plan.requests] == ["+4915112345678", "+263771234567"]
    assert plan.addresses == [(1, 1, DEST), (2, 1, DEST_NATIONAL_ZW)]
    assert [(u.destination_addr, u.error_status_code) for u in plan.unsuccess] == [
        ("49000000000001", S.ESME_RINVDSTADR), ("friends", S.ESME_RINVDLNAME)]
    bad_source = SubmitMulti(source_addr="", dest_address=[SmeAddress(1, 1, DEST)])
    assert validate_submit_multi(bad_source, entry(), NOW) == S.ESME_RINVSRCADR


def test_data_sm() -> None:
    pdu = DataSm(source_addr="Brand", source_addr_ton=5, destination_addr=DEST, dest_addr_ton=1,
                 dest_addr_npi=1, tlvs={Tag.MESSAGE_PAYLOAD: b"data", Tag.QOS_TIME_TO_LIVE: 60})
    request = validate_data_sm(pdu, entry(), NOW)
    assert isinstance(request, SubmitRequest)
    assert request.payload == b"data" and request.validity == NOW + 60 and request.tlvs == {}
    pdu.data_coding = 0x0C
    assert validate_data_sm(pdu, entry(), NOW) == S.ESME_RINVDCS


def test_replace_sm() -> None:
    plan = validate_replace_sm(ReplaceSm(message_id="m1", short_message=b"new",
                                         validity_period="000001000000000R"), NOW)
    assert not isinstance(plan, int)
    assert plan.payload == b"new" and plan.validity == NOW + 86400
    assert validate_replace_sm(ReplaceSm(message_id=""), NOW) == S.ESME_RINVMSGID
    assert validate_replace_sm(ReplaceSm(message_id="m1", validity_period="x"), NOW) == S.ESME_RINVEXPIRY


def test_empty_source_uses_the_tenant_default_sender() -> None:
    # SMPP 3.4 allows an empty source_addr (the SMSC's default); node-smpp sends one by default.
    alnum = validate_submit_sm(SubmitSm(source_addr="", destination_addr=DEST, dest_addr_ton=1, dest_addr_npi=1),
                               entry(default_sender="ACME"), NOW)  # fmt: skip
    assert isinstance(alnum, SubmitRequest)
    assert (alnum.source.raw, alnum.source_ton, alnum.source_npi) == ("ACME", 5, 0)
    number = validate_submit_sm(SubmitSm(source_addr="", destination_addr=DEST, dest_addr_ton=1, dest_addr_npi=1),
                                entry(default_sender="+447700900123"), NOW)  # fmt: skip
    assert isinstance(number, SubmitRequest) and number.source.e164 == "+447700900123" and number.source_ton == 1
    refused = validate_submit_sm(SubmitSm(source_addr="", destination_addr=DEST, dest_addr_ton=1, dest_addr_npi=1),
                                 entry(), NOW)  # fmt: skip
    assert refused == S.ESME_RINVSRCADR
