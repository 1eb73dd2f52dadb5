"""POST /v1/messages body → the same SubmitRequest an SMPP submit_sm would give.

There is one validation path: the JSON is turned into a `SubmitSm` (addresses with the
TON/NPI an ESME would use, text encoded, long text in message_payload) and that PDU goes
through `smsswitch.server.validate.validate_submit_sm`, so a REST message is refused with
exactly the status an SMPP tenant would get, mapped to HTTP in `errors.submit_error`.
"""

from __future__ import annotations

from typing import Any

import attrs

from smsswitch.http.callbacks import check_url
from smsswitch.http.errors import ApiError, submit_error
from smsswitch.server.api import SubmitRequest
from smsswitch.server.tenants import TenantEntry
from smsswitch.server.validate import validate_submit_sm
from smsswitch.smpp.concat import count_segments
from smsswitch.smpp.constants import REGISTERED_DELIVERY_RECEIPT_ALWAYS, CommandStatus, Npi, Tag, Ton
from smsswitch.smpp.pdu import SubmitSm
from smsswitch.smpp.text import DataCodingError, choose_encoding, encode_text

FIELDS = frozenset({"to", "from", "text", "dataCoding", "callbackUrl", "clientReference", "validityPeriod", "receipt"})
MAX_TEXT = 1600
MAX_PARTS = 10
MAX_ADDRESS = 20
MAX_REFERENCE = 64
SHORT_MESSAGE_MAX = 254
VALIDITY_MIN, VALIDITY_MAX = 60, 7 * 86400


@attrs.frozen
class MessageInput:
    to: str
    sender: str
    text: str
    data_coding: int | None = None
    callback_url: str | None = None
    client_reference: str | None = None
    validity: int | None = None  # seconds from now
    receipt: bool = True


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


def _string(body: dict[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"'{name}' must be a non-empty string")
    if len(value) > limit:
        raise _bad(f"'{name}' is longer than {limit} characters")
    return value


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"'{name}' must be an integer from {low} to {high}")
    return value


def parse_message(body: Any, *, private_callbacks: bool = False) -> MessageInput:
    """Shape checks only (types, lengths, unknown fields); content checks are validate's."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    unknown = set(body) - FIELDS
    if unknown:
        raise _bad(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    receipt = body.get("receipt", True)
    if not isinstance(receipt, bool):
        raise _bad("'receipt' must be true or false")
    callback = body.get("callbackUrl")
    return MessageInput(
        to=_string(body, "to", MAX_ADDRESS),  # type: ignore[arg-type]
        sender=_string(body, "from", MAX_ADDRESS),  # type: ignore[arg-type]
        text=_string(body, "text", MAX_TEXT),  # type: ignore[arg-type]
        data_coding=_integer(body, "dataCoding", 0, 255),
        callback_url=None if callback is None else check_url(callback, private_ok=private_callbacks),
        client_reference=_string(body, "clientReference", MAX_REFERENCE, required=False),
        validity=_integer(body, "validityPeriod", VALIDITY_MIN, VALIDITY_MAX),
        receipt=receipt,
    )


def address(text: str) -> tuple[str, int, int]:
    """(addr, ton, npi) as an ESME would send it: '+digits' international, other digits
    unknown TON (national in the tenant's region, else international), letters alphanumeric."""
    compact = text.strip()
    if compact.startswith("+") and compact[1:].isdigit():
        return compact, Ton.INTERNATIONAL, Npi.ISDN  # "+" kept: "+12" is no short code
    if compact.isdigit():
        return compact, Ton.UNKNOWN, Npi.ISDN
    return compact, Ton.ALPHANUMERIC, Npi.UNKNOWN


def relative_time(seconds: int) -> str:
    """SMPP relative time `YYMMDDhhmmss000R` for a duration under 100 days."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def encode(message: MessageInput) -> tuple[bytes, int, int]:
    """(payload, data_coding, parts): the cheapest coding that holds the text unless given."""
    data_coding = message.data_coding if message.data_coding is not None else choose_encoding(message.text)
    try:
        payload = encode_text(message.text, data_coding)
    except DataCodingError:
        raise submit_error(CommandStatus.ESME_RINVDCS) from None
    except UnicodeEncodeError:
        raise ApiError(400, "text_not_encodable", "the text has characters this dataCoding cannot carry") from None
    try:
        parts = count_segments(payload, data_coding)
    except (DataCodingError, ValueError):
        parts = 1
    if parts > MAX_PARTS:
        raise ApiError(400, "text_too_long", f"the text needs {parts} SMS parts; at most {MAX_PARTS}")
    return payload, data_coding, parts


def build_submit_sm(message: MessageInput) -> tuple[SubmitSm, int]:
    """The submit_sm an ESME would send for `message`, and how many parts it costs."""
    payload, data_coding, parts = encode(message)
    source, source_ton, source_npi = address(message.sender)
    dest, dest_ton, dest_npi = address(message.to)
    pdu = SubmitSm(
        source_addr=source, source_addr_ton=source_ton, source_addr_npi=source_npi,
        destination_addr=dest, dest_addr_ton=dest_ton, dest_addr_npi=dest_npi,
        data_coding=data_coding,
        registered_delivery=REGISTERED_DELIVERY_RECEIPT_ALWAYS if message.receipt else 0,
        validity_period=relative_time(message.validity) if message.validity else "",
    )  # fmt: skip
    if len(payload) > SHORT_MESSAGE_MAX:
        pdu.tlvs[Tag.MESSAGE_PAYLOAD] = payload
    else:
        pdu.short_message = payload
    return pdu, parts


def to_request(message: MessageInput, tenant: TenantEntry, now: float) -> tuple[SubmitRequest, int]:
    """Validated exactly like SMPP; raises the mapped ApiError for a refused message."""
    pdu, parts = build_submit_sm(message)
    result = validate_submit_sm(pdu, tenant, now)
    if isinstance(result, int):
        raise submit_error(result)
    result.client_reference = message.client_reference
    return result, parts

