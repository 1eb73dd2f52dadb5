"""Delivery receipts in both directions: read a carrier's, write the tenant's.

Carriers put a receipt's facts in the text body, in TLVs (receipted_message_id,
message_state, network_error_code), or both, and not always where SMPP says; the
connector's quirks say where to look. The tenant's receipt always carries both forms with
OUR message id, so any ESME library can read it.

Pure functions: no clock reads, no I/O.
"""

from __future__ import annotations

import attrs

from smsswitch.config import CarrierQuirks
from smsswitch.core.views import ReceiptSubject
from smsswitch.journal.records import MessageState
from smsswitch.smpp.concat import parse_udh
from smsswitch.smpp.constants import (
    ESM_CLASS_DELIVERY_ACK,
    ESM_CLASS_DELIVERY_RECEIPT,
    ESM_CLASS_INTERMEDIATE_NOTIFICATION,
    ESM_CLASS_MANUAL_ACK,
    ESM_CLASS_TYPE_MASK,
    ESM_CLASS_UDHI,
    REGISTERED_DELIVERY_RECEIPT_ALWAYS,
    REGISTERED_DELIVERY_RECEIPT_MASK,
    REGISTERED_DELIVERY_RECEIPT_ON_FAILURE,
    Tag,
)
from smsswitch.smpp.constants import MessageState as SmppState
from smsswitch.smpp.pdu import DataSm, DeliverSm
from smsswitch.smpp.receipt import RECEIPT_TEXT_LENGTH, format_receipt, parse_receipt, receipt_minute
from smsswitch.smpp.text import DataCodingError, decode_text

#: esm_class message types that mean "this deliver_sm is about an earlier submit".
RECEIPT_TYPES = frozenset({ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_DELIVERY_ACK, ESM_CLASS_MANUAL_ACK,
                           ESM_CLASS_INTERMEDIATE_NOTIFICATION})  # fmt: skip

#: message_state TLV values → our state; ENROUTE/ACCEPTED are intermediate.
SMPP_STATES: dict[int, MessageState | None] = {
    SmppState.ENROUTE: None,
    SmppState.ACCEPTED: None,
    SmppState.DELIVERED: MessageState.DELIVERED,
    SmppState.EXPIRED: MessageState.EXPIRED,
    SmppState.DELETED: MessageState.DELETED,
    SmppState.UNDELIVERABLE: MessageState.UNDELIVERABLE,
    SmppState.UNKNOWN: MessageState.UNKNOWN,
    SmppState.REJECTED: MessageState.REJECTED,
}
#: Our final state → the receipt's stat word.
STAT_OF: dict[MessageState, str] = {
    MessageState.DELIVERED: "DELIVRD",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.REJECTED: "REJECTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.ENROUTE: "ENROUTE",
}
#: network_error_code TLV network type for GSM (SMPP 3.4 5.3.2.31).
NETWORK_TYPE_GSM = 3


@attrs.frozen(slots=True)
class CarrierReceipt:
    """What a carrier's receipt says: its id for the message, and the outcome."""

    carrier_id: str
    state: MessageState | None  # None: an intermediate notification, nothing to record
    error: int = 0
    stat: str = ""


def is_receipt(pdu: DeliverSm | DataSm) -> bool:
    """esm_class says receipt, or the receipt TLVs are present."""
    return (pdu.esm_class & ESM_CLASS_TYPE_MASK) in RECEIPT_TYPES or Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs


def read_carrier_receipt(pdu: DeliverSm | DataSm, quirks: CarrierQuirks) -> CarrierReceipt | None:
    """The receipt in `pdu`, looking where the connector's quirks say; None if there is none.

    The TLVs win for id and state (they are typed). With receipts_in="text" or "both" the
    text fills in what they lack (err, or everything when a carrier sets only the esm_class
    bit); with "tlv" the text is read only when the TLVs are missing, rather than lose it.
    """
    carrier_id = state_word = None
    state: MessageState | None = None
    have_state = False
    error = 0
    tlvs = pdu.tlvs
    if quirks.receipts_in != "text":
        rid = tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
        if rid:
            carrier_id = rid.decode("latin-1") if isinstance(rid, bytes) else str(rid)
            carrier_id = carrier_id.strip("\x00 ")
        smpp_state = tlvs.get(Tag.MESSAGE_STATE)
        if smpp_state is not None and smpp_state in SMPP_STATES:
            state, have_state = SMPP_STATES[smpp_state], True
            state_word = STAT_OF.get(state, "ENROUTE") if state else "ENROUTE"
        nec = tlvs.get(Tag.NETWORK_ERROR_CODE)
        if isinstance(nec, bytes) and len(nec) == 3:
            error = int.from_bytes(nec[1:3], "big")
    complete = carrier_id is not None and have_state and (state is MessageState.DELIVERED or error)
    if not complete and (quirks.receipts_in != "tlv" or carrier_id is None or not have_state):
        parsed = parse_receipt(_body(pdu))
        if parsed is not None:
            carrier_id = carrier_id or parsed.id or None
            if not have_state and parsed.state is not None:
                state, have_state = SMPP_STATES.get(parsed.state), True
                state_word = parsed.stat or ""
            if not error and parsed.error_code:
                error = parsed.error_code
    if not carrier_id or not have_state:
        return None
    return CarrierReceipt(carrier_id, state, error, state_word or "")


def _body(pdu: DeliverSm | DataSm) -> bytes:
    body = getattr(pdu, "short_message", b"") or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) or b""
    return body if isinstance(body, bytes) else bytes(body)


# ---------------------------------------------------------------- the tenant's receipt


def wants_receipt(registered_delivery: int, state: MessageState) -> bool:
    """registered_delivery bits 1-0: 01 always, 10 only when it failed."""
    mode = registered_delivery & REGISTERED_DELIVERY_RECEIPT_MASK
    if mode == REGISTERED_DELIVERY_RECEIPT_ALWAYS:
        return True
    return mode == REGISTERED_DELIVERY_RECEIPT_ON_FAILURE and state is not MessageState.DELIVERED


# The receipt goes out as data_coding 0 with ASCII octets: only characters that are the same
# octet in ASCII and in the GSM 03.38 default alphabet survive a tenant decoding it as either.
_NOT_SAME_IN_GSM = frozenset("@$[\\]^_`{|}~")
_RECEIPT_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - _NOT_SAME_IN_GSM


def message_text(record: ReceiptSubject, limit: int = RECEIPT_TEXT_LENGTH) -> str:
    """The first `limit` characters of the message for the receipt text, with every character
    that ASCII and GSM 03.38 would read differently replaced by '?'."""
    payload = record.payload
    if record.esm_class & ESM_CLASS_UDHI:
        payload = parse_udh(payload)[1]
    try:
        text = decode_text(payload[: limit * 2], record.data_coding)[:limit]
    except DataCodingError:
        return ""
    if _RECEIPT_SAFE.issuperset(text):
        return text
    return "".join(c if c in _RECEIPT_SAFE else "?" for c in text)


def receipt_text(
    message_id: str, state: MessageState, error: int, submitted: float, done: float, text: str
) -> str:
    """The de facto standard receipt body (SMPP 3.4 appendix B), with OUR message id."""
    dlvrd = 1 if state is MessageState.DELIVERED else 0
    stat = STAT_OF.get(state, "UNKNOWN")
    submitted_at, done_at = receipt_minute(submitted), receipt_minute(done)
    return format_receipt(message_id, 1, dlvrd, submitted_at, done_at, stat, error % 1000, text)


# Plain ints, looked up once: the enum conversions showed in the receipt path's profile.
_TAG_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_TAG_MESSAGE_STATE = int(Tag.MESSAGE_STATE)
_TAG_NETWORK_ERROR_CODE = int(Tag.NETWORK_ERROR_CODE)
_SMPP_STATE_OF = {state: int(state.smpp) for state in MessageState}


def tenant_receipt(record: ReceiptSubject, state: MessageState, error: int, done: float) -> dict:
    """The outbox payload of a receipt: a deliver_sm from the handset back to the sender
    (source and destination swapped, as SMSCs do), esm_class receipt, TLVs with our id."""
    body = receipt_text(record.id, state, error, record.created, done, message_text(record))
    tlvs: list[list] = [[_TAG_RECEIPTED_MESSAGE_ID, record.id], [_TAG_MESSAGE_STATE, _SMPP_STATE_OF[state]]]
    if error:
        nec = bytes([NETWORK_TYPE_GSM]) + (error & 0xFFFF).to_bytes(2, "big")
        tlvs.append([_TAG_NETWORK_ERROR_CODE, nec])
    return {
        "src": _smpp_addr(record.destination), "src_ton": record.dest_ton, "src_npi": record.dest_npi,
        "dst": _smpp_addr(record.source), "dst_ton": record.source_ton, "dst_npi": record.source_npi,
        "esm": ESM_CLASS_DELIVERY_RECEIPT, "dc": 0, "sm": body.encode("ascii"), "tlvs": tlvs,
        "service_type": record.service_type,
    }  # fmt: skip


def _smpp_addr(number: str) -> str:
    return number[1:] if number.startswith("+") else number


def deliver_sm_of(payload: dict) -> DeliverSm:
    """The deliver_sm for an outbox payload (receipt or MO); sequence number unset."""
    tlvs = {tag: value for tag, value in payload.get("tlvs", ())}
    return DeliverSm(
        service_type=payload.get("service_type", ""),
        source_addr_ton=payload.get("src_ton", 0),
        source_addr_npi=payload.get("src_npi", 0),
        source_addr=payload.get("src", ""),
        dest_addr_ton=payload.get("dst_ton", 0),
        dest_addr_npi=payload.get("dst_npi", 0),
        destination_addr=payload.get("dst", ""),
        esm_class=payload.get("esm", 0),
        protocol_id=payload.get("pid", 0),
        data_coding=payload.get("dc", 0),
        short_message=payload.get("sm", b""),
        tlvs=tlvs,
    )
