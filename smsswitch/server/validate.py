"""Validate a tenant's submit_sm / data_sm / submit_multi and turn it into SubmitRequests.

Each check answers with the precise SMPP status the spec names for the offending field, so
a tenant's developer can tell from the status alone what to fix. Numbers are parsed here,
once (smsswitch.numbers memoises), and the NumberInfo travels with the request: routing and
policy never parse again.

Every function returns either the request(s) or an int status; no exceptions on the hot
path. `now` is wall-clock epoch seconds (validity/schedule are absolute epoch times).
"""

from __future__ import annotations

from typing import Any

import attrs

from smsswitch.numbers import ALPHANUMERIC, INVALID, SHORTCODE, NumberInfo, parse_number
from smsswitch.server.api import SubmitRequest
from smsswitch.server.smpp_time import SmppTimeError, parse_smpp_time
from smsswitch.server.tenants import TenantEntry
from smsswitch.smpp.concat import parse_udh
from smsswitch.smpp.constants import (
    ESM_CLASS_DELIVERY_ACK,
    ESM_CLASS_MANUAL_ACK,
    ESM_CLASS_MODE_DATAGRAM,
    ESM_CLASS_MODE_DEFAULT,
    ESM_CLASS_MODE_MASK,
    ESM_CLASS_MODE_STORE_AND_FORWARD,
    ESM_CLASS_TYPE_DEFAULT,
    ESM_CLASS_TYPE_MASK,
    ESM_CLASS_UDHI,
    REGISTERED_DELIVERY_RECEIPT_MASK,
    CommandStatus,
    Npi,
    Tag,
    Ton,
)
from smsswitch.smpp.pdu import DataSm, DistributionList, ReplaceSm, SubmitMulti, SubmitSm, UnsuccessSme
from smsswitch.smpp.text import Alphabet, DataCodingError, alphabet_for

__all__ = [
    "MultiPlan",
    "ReplacePlan",
    "validate_data_sm",
    "validate_replace_sm",
    "validate_submit_multi",
    "validate_submit_sm",
]

S = CommandStatus

_TONS = frozenset(int(t) for t in Ton)
_NPIS = frozenset(int(n) for n in Npi)
# Store-and-forward is what we are; datagram is accepted as best effort. Forward
# (transaction) mode would need the carrier's answer inside our submit_sm_resp: refused.
_MODES = frozenset({ESM_CLASS_MODE_DEFAULT, ESM_CLASS_MODE_DATAGRAM, ESM_CLASS_MODE_STORE_AND_FORWARD})
# Message types an ESME may submit (3.4 section 5.2.12): plain, delivery ack, manual ack.
_SUBMIT_TYPES = frozenset({ESM_CLASS_TYPE_DEFAULT, ESM_CLASS_DELIVERY_ACK, ESM_CLASS_MANUAL_ACK})
_REGISTERED_DELIVERY_RESERVED = 0xE0
_RECEIPT_RESERVED_VALUE = 0x03
_PRIORITY_MAX = 3
_SENDER_ALNUM_MAX = 11
_SAR_TAGS = (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM)
# TLVs whose meaning moves into SubmitRequest fields instead of travelling on as TLVs.
_CONSUMED_TAGS = frozenset({int(Tag.MESSAGE_PAYLOAD), *(int(t) for t in _SAR_TAGS)})
# Plain ints for the per-PDU lookups: an enum attribute read costs a class-dict walk each time.
_MESSAGE_PAYLOAD = int(Tag.MESSAGE_PAYLOAD)
_USER_MESSAGE_REFERENCE = int(Tag.USER_MESSAGE_REFERENCE)
_QOS_TIME_TO_LIVE = int(Tag.QOS_TIME_TO_LIVE)
_UCS2 = Alphabet.UCS2
_NO_TIMES = (None, None)


@attrs.frozen
class MultiPlan:
    """A validated submit_multi: one request per good destination (`addresses[i]` is the
    (ton, npi, address) of `requests[i]` as the tenant wrote it, for unsuccess_smes if the
    core refuses it) and the destinations refused already, with their status."""

    requests: list[SubmitRequest]
    addresses: list[tuple[int, int, str]]
    unsuccess: list[UnsuccessSme]


@attrs.frozen
class ReplacePlan:
    payload: bytes
    registered_delivery: int
    validity: float | None
    schedule: float | None


# ---------------------------------------------------------------- addresses


def sender_of(addr: str, ton: int, npi: int, tenant: TenantEntry) -> tuple[str, int, int]:
    """SMPP lets source_addr be empty ("the SMSC's default"): use the tenant's default_sender
    then (alphanumeric → TON 5/NPI 0, a number → TON 1/NPI 1). Without one, empty stays empty
    and is refused ESME_RINVSRCADR."""
    default = tenant.config.default_sender
    if addr or not default:
        return addr, ton, npi
    if default.lstrip("+").isdigit():
        return default.lstrip("+"), 1, 1
    return default, 5, 0


def check_source(addr: str, ton: int, npi: int, tenant: TenantEntry) -> NumberInfo | int:
    """Sender: present, sane TON/NPI, alphanumeric ids up to 11 characters kept as written,
    numbers normalised; then the tenant's allowed_senders."""
    if not addr:
        return S.ESME_RINVSRCADR
    if ton not in _TONS:
        return S.ESME_RINVSRCTON
    if npi not in _NPIS:
        return S.ESME_RINVSRCNPI
    info = parse_number(addr, ton, npi, tenant.config.default_region)
    if info.kind == INVALID:
        return S.ESME_RINVSRCADR
    if info.kind == ALPHANUMERIC and (len(addr) > _SENDER_ALNUM_MAX or not addr.isprintable()):
        return S.ESME_RINVSRCADR
    if not tenant.senders.allows(addr, info.e164):
        return S.ESME_RINVSRCADR
    return info


def check_destination(addr: str, ton: int, npi: int, tenant: TenantEntry) -> NumberInfo | int:
    """Recipient: a valid phone number (E.164 after TON and the tenant's region) or a short
    code; alphanumeric or unparsable addresses cannot be delivered to."""
    if not addr:
        return S.ESME_RINVDSTADR
    if ton not in _TONS:
        return S.ESME_RINVDSTTON
    if npi not in _NPIS:
        return S.ESME_RINVDSTNPI
    info = parse_number(addr, ton, npi, tenant.config.default_region)
    if info.kind == SHORTCODE:
        return info
    if info.kind in (INVALID, ALPHANUMERIC) or not info.is_valid:
        return S.ESME_RINVDSTADR
    return info


# ---------------------------------------------------------------- message fields


def _check_flags(esm_class: int, registered_delivery: int) -> int:
    if esm_class & ESM_CLASS_MODE_MASK not in _MODES or esm_class & ESM_CLASS_TYPE_MASK not in _SUBMIT_TYPES:
        return S.ESME_RINVESMCLASS
    if (
        registered_delivery & _REGISTERED_DELIVERY_RESERVED
        or registered_delivery & REGISTERED_DELIVERY_RECEIPT_MASK == _RECEIPT_RESERVED_VALUE
    ):
        return S.ESME_RINVREGDLVFLG
    return S.ESME_ROK


def _check_body(
    short_message: bytes, tlvs: dict[int, Any], esm_class: int, data_coding: int
) -> tuple[bytes, tuple[int, int, int] | None] | int:
    """The body (short_message or message_payload) and the concatenation part it carries."""
    try:
        alphabet = alphabet_for(data_coding)
    except DataCodingError:
        return S.ESME_RINVDCS
    payload_tlv = tlvs.get(_MESSAGE_PAYLOAD) if tlvs else None
    if payload_tlv is not None:
        if short_message:
            return S.ESME_RINVPARLEN  # 3.4 5.3.2.32: with message_payload, sm_length must be 0
        payload = bytes(payload_tlv)
    else:
        payload = short_message
    part = None
    text = payload
    if esm_class & ESM_CLASS_UDHI:
        udh, text = parse_udh(payload)
        if udh is None:
            return S.ESME_RINVMSGLEN
        if udh.concat is not None:
            part = (udh.concat.reference, udh.concat.total, udh.concat.sequence)
    if alphabet is _UCS2 and len(text) % 2:
        return S.ESME_RINVMSGLEN
    if part is None and tlvs:
        sar = _sar_part(tlvs)
        if isinstance(sar, int):
            return sar
        part = sar
    return payload, part


def _sar_part(tlvs: dict[int, Any]) -> tuple[int, int, int] | None | int:
    present = [tlvs.get(tag) for tag in _SAR_TAGS]
    if all(v is None for v in present):
        return None
    if any(v is None for v in present):
        return S.ESME_RMISSINGOPTPARAM
    reference, total, sequence = present
    if not (1 <= total and 1 <= sequence <= total):
        return S.ESME_RINVOPTPARAMVAL
    return reference, total, sequence


def _check_times(schedule_text: str, validity_text: str, now: float) -> tuple[float | None, float | None] | int:
    if not schedule_text and not validity_text:
        return _NO_TIMES  # the usual submit: deliver now, default validity
    try:
        schedule = parse_smpp_time(schedule_text, now)
    except SmppTimeError:
        return S.ESME_RINVSCHED
    try:
        validity = parse_smpp_time(validity_text, now)
    except SmppTimeError:
        return S.ESME_RINVEXPIRY
    if validity is not None and (validity <= now or (schedule is not None and validity <= schedule)):
        return S.ESME_RINVEXPIRY
    return schedule, validity


def _carried_tlvs(tlvs: dict[int, Any]) -> dict[int, Any]:
    if not tlvs:
        return {}
    return {tag: value for tag, value in tlvs.items() if tag not in _CONSUMED_TAGS}


def _client_reference(tlvs: dict[int, Any]) -> str | None:
    if not tlvs:
        return None
    ref = tlvs.get(_USER_MESSAGE_REFERENCE)
    return None if ref is None else str(ref)


@attrs.define(slots=True)
class _Common:
    """What a submit_sm and a submit_multi share once validated (all but the destination)."""

    source: NumberInfo
    payload: bytes
    part: tuple[int, int, int] | None
    schedule: float | None
    validity: float | None
    source_ton: int
    source_npi: int


def _check_common(pdu: SubmitSm | SubmitMulti, tenant: TenantEntry, now: float) -> _Common | int:
    sender = sender_of(pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi, tenant)
    source = check_source(*sender, tenant)
    if isinstance(source, int):
        return source
    status = _check_flags(pdu.esm_class, pdu.registered_delivery)
    if status:
        return status
    if pdu.priority_flag > _PRIORITY_MAX:
        return S.ESME_RINVPRTFLG
    if pdu.replace_if_present_flag > 1:
        return S.ESME_RINVREPFLAG
    if pdu.sm_default_msg_id:
        return S.ESME_RINVDFTMSGID  # no canned messages here
    body = _check_body(pdu.short_message, pdu.tlvs, pdu.esm_class, pdu.data_coding)
    if isinstance(body, int):
        return body
    times = _check_times(pdu.schedule_delivery_time, pdu.validity_period, now)
    if isinstance(times, int):
        return times
    return _Common(source, body[0], body[1], times[0], times[1], sender[1], sender[2])


def _request(
    pdu: SubmitSm | SubmitMulti, common: _Common, destination: NumberInfo, dest_ton: int, dest_npi: int
) -> SubmitRequest:
    return SubmitRequest(
        source=common.source,
        destination=destination,
        source_ton=common.source_ton,
        source_npi=common.source_npi,
        dest_ton=dest_ton,
        dest_npi=dest_npi,
        data_coding=pdu.data_coding,
        esm_class=pdu.esm_class,
        payload=common.payload,
        registered_delivery=pdu.registered_delivery,
        protocol_id=pdu.protocol_id,
        priority_flag=pdu.priority_flag,
        validity=common.validity,
        schedule=common.schedule,
        part=common.part,
        service_type=pdu.service_type,
        tlvs=_carried_tlvs(pdu.tlvs),
        client_reference=_client_reference(pdu.tlvs),
    )


# ---------------------------------------------------------------- per PDU


def validate_submit_sm(pdu: SubmitSm, tenant: TenantEntry, now: float) -> SubmitRequest | int:
    """A submit_sm as one SubmitRequest, or the status that refuses it."""
    destination = check_destination(pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, tenant)
    if isinstance(destination, int):
        return destination
    common = _check_common(pdu, tenant, now)
    if isinstance(common, int):
        return common
    return _request(pdu, common, destination, pdu.dest_addr_ton, pdu.dest_addr_npi)


def validate_submit_multi(pdu: SubmitMulti, tenant: TenantEntry, now: float) -> MultiPlan | int:
    """Shared fields refuse the whole submit_multi; each bad destination only itself."""
    common = _check_common(pdu, tenant, now)
    if isinstance(common, int):
        return common
    requests: list[SubmitRequest] = []
    addresses: list[tuple[int, int, str]] = []
    unsuccess: list[UnsuccessSme] = []
    for dest in pdu.dest_address:
        if isinstance(dest, DistributionList):
            unsuccess.append(UnsuccessSme(0, 0, dest.dl_name, S.ESME_RINVDLNAME))
            continue
        info = check_destination(dest.destination_addr, dest.dest_addr_ton, dest.dest_addr_npi, tenant)
        if isinstance(info, int):
            unsuccess.append(UnsuccessSme(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, info))
            continue
        requests.append(_request(pdu, common, info, dest.dest_addr_ton, dest.dest_addr_npi))
        addresses.append((dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr))
    return MultiPlan(requests, addresses, unsuccess)


def validate_data_sm(pdu: DataSm, tenant: TenantEntry, now: float) -> SubmitRequest | int:
    """data_sm: the body is message_payload; qos_time_to_live (seconds) gives the validity."""
    destination = check_destination(pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi, tenant)
    if isinstance(destination, int):
        return destination
    sender = sender_of(pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi, tenant)
    source = check_source(*sender, tenant)
    if isinstance(source, int):
        return source
    status = _check_flags(pdu.esm_class, pdu.registered_delivery)
    if status:
        return status
    body = _check_body(b"", pdu.tlvs, pdu.esm_class, pdu.data_coding)
    if isinstance(body, int):
        return body
    ttl = pdu.tlvs.get(_QOS_TIME_TO_LIVE)
    return SubmitRequest(
        source=source,
        destination=destination,
        source_ton=sender[1],
        source_npi=sender[2],
        dest_ton=pdu.dest_addr_ton,
        dest_npi=pdu.dest_addr_npi,
        data_coding=pdu.data_coding,
        esm_class=pdu.esm_class,
        payload=body[0],
        registered_delivery=pdu.registered_delivery,
        validity=now + ttl if ttl else None,
        part=body[1],
        service_type=pdu.service_type,
        tlvs={k: v for k, v in _carried_tlvs(pdu.tlvs).items() if k != _QOS_TIME_TO_LIVE},
        client_reference=_client_reference(pdu.tlvs),
    )


def validate_replace_sm(pdu: ReplaceSm, now: float) -> ReplacePlan | int:
    """replace_sm's new body, flags and times (the message itself is the core's to find)."""
    if not pdu.message_id:
        return S.ESME_RINVMSGID
    status = _check_flags(0, pdu.registered_delivery)
    if status:
        return status
    if pdu.sm_default_msg_id:
        return S.ESME_RINVDFTMSGID
    times = _check_times(pdu.schedule_delivery_time, pdu.validity_period, now)
    if isinstance(times, int):
        return times
    return ReplacePlan(pdu.short_message, pdu.registered_delivery, times[1], times[0])
