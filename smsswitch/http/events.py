"""The JSON event a tenant receives for a receipt or an MO — by webhook and on /v1/events.

Schema version 1 (every key always present, null when unknown; new keys may be added within
a version, none removed or changed)::

    schemaVersion   1
    eventId         the outbox entry id: the same on every retry (deduplicate on it)
    type            "receipt" | "mo"
    messageId       receipt: our id for the MT it reports on; mo: the MO's own id
    fromNumber      receipt: the MT's sender; mo: the subscriber (E.164 when a number)
    toNumber        receipt: the MT's recipient; mo: the short code or number it was sent to
    content         mo: the text; receipt: null
    timestamp       ISO 8601 UTC: when the final state was known / the MO arrived
    carrier         the connector that delivered the MT / received the MO
    status          receipt: DELIVRD | UNDELIV | EXPIRED | REJECTD | DELETED | UNKNOWN; mo: RECEIVED
    errorCode       receipt: the carrier's error code (0 when none); mo: 0
    parts           SMS parts of the MT / of the long MO this part belongs to
    clientReference receipt: what the tenant sent as clientReference; mo: null
    keyword         mo: the matched keyword (null when none); receipt: null
    submittedAt     receipt: when the MT was accepted; mo: null

Webhook entries carry the core's payload dict; SSE gets the deliver_sm an SMPP receiver
would get. Both end up in this one shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from smsswitch.core.receipts import is_receipt
from smsswitch.journal.ids import id_time
from smsswitch.journal.records import MessageRecord, OutboxEntry
from smsswitch.smpp.concat import count_segments, parse_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI, Tag
from smsswitch.smpp.pdu import DeliverSm
from smsswitch.smpp.receipt import parse_receipt, state_to_stat
from smsswitch.smpp.text import DataCodingError, decode_text

SCHEMA_VERSION = 1
EVENT_TYPES = ("receipt", "mo")

RecordLookup = Callable[[str], MessageRecord | None]


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(event_type: str, event_id: str, **fields: Any) -> dict[str, Any]:
    event = {
        "schemaVersion": SCHEMA_VERSION, "eventId": event_id, "type": event_type, "messageId": None,
        "fromNumber": None, "toNumber": None, "content": None, "timestamp": None, "carrier": None,
        "status": None, "errorCode": 0, "parts": 1, "clientReference": None, "keyword": None,
        "submittedAt": None,
    }  # fmt: skip
    event.update(fields)
    return event


def event_type_of(entry: OutboxEntry) -> str:
    return str(entry.payload.get("event", "receipt"))


def event_from_entry(entry: OutboxEntry, lookup: RecordLookup | None = None) -> dict[str, Any]:
    """The event for a webhook outbox entry (the core's payload, plus the journal record of
    a receipt's message for carrier and parts when it is still there)."""
    p = entry.payload
    if event_type_of(entry) == "mo":
        return _event(
            "mo", entry.id, messageId=entry.id, fromNumber=p.get("from"), toNumber=p.get("to"),
            content=p.get("text"), timestamp=iso(p.get("received", entry.created)), carrier=p.get("connector"),
            status="RECEIVED", keyword=p.get("keyword"),
        )  # fmt: skip
    message_id = p.get("message_id") or entry.message_id
    record = lookup(message_id) if lookup is not None and message_id else None
    return _event(
        "receipt", entry.id, messageId=message_id, fromNumber=p.get("from"), toNumber=p.get("to"),
        timestamp=iso(p.get("done", entry.created)), carrier=record.connector if record else None,
        status=p.get("status"), errorCode=int(p.get("error") or 0), parts=_record_parts(record),
        clientReference=p.get("client_ref"), submittedAt=iso(p.get("submitted")),
    )  # fmt: skip


def _record_parts(record: MessageRecord | None) -> int:
    if record is None:
        return 1
    if record.part is not None:
        return record.part.total
    try:
        return count_segments(record.payload, record.data_coding)
    except (DataCodingError, ValueError):
        return 1


def event_from_deliver_sm(entry_id: str, pdu: DeliverSm, lookup: RecordLookup | None = None) -> dict[str, Any]:
    """The event for a deliver_sm the core offers an outlet (a receipt or an MO)."""
    body = pdu.short_message or _bytes(pdu.tlvs.get(Tag.MESSAGE_PAYLOAD))
    if is_receipt(pdu):
        return _receipt_event(entry_id, pdu, body, lookup)
    parts = 1
    if pdu.esm_class & ESM_CLASS_UDHI:
        udh, body = parse_udh(body)
        if udh is not None and udh.concat is not None:
            parts = udh.concat.total
    elif Tag.SAR_TOTAL_SEGMENTS in pdu.tlvs:
        parts = int(pdu.tlvs[Tag.SAR_TOTAL_SEGMENTS])
    try:
        text = decode_text(body, pdu.data_coding)
    except DataCodingError:
        text = None
    return _event(
        "mo", entry_id, messageId=entry_id, fromNumber=_plus(pdu.source_addr, pdu.source_addr_ton),
        toNumber=_plus(pdu.destination_addr, pdu.dest_addr_ton), content=text, timestamp=iso(id_time(entry_id)),
        status="RECEIVED", parts=parts,
    )  # fmt: skip


def _receipt_event(entry_id: str, pdu: DeliverSm, body: bytes, lookup: RecordLookup | None) -> dict[str, Any]:
    parsed = parse_receipt(body)
    message_id = _text(pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)) or (parsed.id if parsed else None)
    state = pdu.tlvs.get(Tag.MESSAGE_STATE)
    status = state_to_stat(state) if state is not None else (parsed.stat if parsed else None)
    error = 0
    nec = pdu.tlvs.get(Tag.NETWORK_ERROR_CODE)
    if isinstance(nec, bytes) and len(nec) == 3:
        error = int.from_bytes(nec[1:], "big")
    elif parsed is not None and parsed.error_code:
        error = parsed.error_code
    record = lookup(message_id) if lookup is not None and message_id else None
    # A receipt travels from the handset back to the sender: swap to the MT's direction.
    return _event(
        "receipt", entry_id, messageId=message_id,
        fromNumber=record.source if record else _plus(pdu.destination_addr, pdu.dest_addr_ton),
        toNumber=record.destination if record else _plus(pdu.source_addr, pdu.source_addr_ton),
        timestamp=iso(id_time(entry_id)), carrier=record.connector if record else None, status=status,
        errorCode=error, parts=_record_parts(record), clientReference=record.client_ref if record else None,
        submittedAt=iso(record.created) if record else None,
    )  # fmt: skip


def _plus(addr: str, ton: int) -> str:
    return "+" + addr if ton == 1 and addr.isdigit() else addr


def _bytes(value: Any) -> bytes:
    return bytes(value) if value else b""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return text.strip("\x00 ") or None
