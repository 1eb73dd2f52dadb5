"""Optional parameters (TLVs): the value type of each known tag, and the stream codec.

Known tags decode to int (1/2/4-octet integers), str (C-octet strings) or bytes (octet
strings); unknown tags are kept as raw bytes so they re-encode byte for byte. Integer
TLVs with the wrong length are refused with ESME_RINVPARLEN; a TLV header or value that
runs past the body is ESME_RINVOPTPARSTREAM. C-string TLVs are read leniently (a missing
NUL or extra length is accepted) because carriers differ there and a lost
receipted_message_id costs a delivery receipt.
"""

from __future__ import annotations

import struct
from typing import Any

from smsswitch.smpp.constants import CommandStatus, Tag
from smsswitch.smpp.errors import PduError, PduEncodeError

U8, U16, U32, CSTR, OCTETS = 1, 2, 4, 5, 6

#: tag -> (kind, size): size is the exact length for fixed octet strings, the max length
#: (including NUL) for C-strings, 0 when unconstrained.
TLV_TYPES: dict[int, tuple[int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: (U8, 1),
    Tag.DEST_NETWORK_TYPE: (U8, 1),
    Tag.DEST_BEARER_TYPE: (U8, 1),
    Tag.DEST_TELEMATICS_ID: (U16, 2),
    Tag.SOURCE_ADDR_SUBUNIT: (U8, 1),
    Tag.SOURCE_NETWORK_TYPE: (U8, 1),
    Tag.SOURCE_BEARER_TYPE: (U8, 1),
    Tag.SOURCE_TELEMATICS_ID: (U8, 1),
    Tag.QOS_TIME_TO_LIVE: (U32, 4),
    Tag.PAYLOAD_TYPE: (U8, 1),
    Tag.ADDITIONAL_STATUS_INFO_TEXT: (CSTR, 256),
    Tag.RECEIPTED_MESSAGE_ID: (CSTR, 65),
    Tag.MS_MSG_WAIT_FACILITIES: (U8, 1),
    Tag.PRIVACY_INDICATOR: (U8, 1),
    Tag.SOURCE_SUBADDRESS: (OCTETS, 0),
    Tag.DEST_SUBADDRESS: (OCTETS, 0),
    Tag.USER_MESSAGE_REFERENCE: (U16, 2),
    Tag.USER_RESPONSE_CODE: (U8, 1),
    Tag.SOURCE_PORT: (U16, 2),
    Tag.DESTINATION_PORT: (U16, 2),
    Tag.SAR_MSG_REF_NUM: (U16, 2),
    Tag.LANGUAGE_INDICATOR: (U8, 1),
    Tag.SAR_TOTAL_SEGMENTS: (U8, 1),
    Tag.SAR_SEGMENT_SEQNUM: (U8, 1),
    Tag.SC_INTERFACE_VERSION: (U8, 1),
    Tag.CALLBACK_NUM_PRES_IND: (U8, 1),
    Tag.CALLBACK_NUM_ATAG: (OCTETS, 0),
    Tag.NUMBER_OF_MESSAGES: (U8, 1),
    Tag.CALLBACK_NUM: (OCTETS, 0),
    Tag.DPF_RESULT: (U8, 1),
    Tag.SET_DPF: (U8, 1),
    Tag.MS_AVAILABILITY_STATUS: (U8, 1),
    Tag.NETWORK_ERROR_CODE: (OCTETS, 3),
    Tag.MESSAGE_PAYLOAD: (OCTETS, 0),
    Tag.DELIVERY_FAILURE_REASON: (U8, 1),
    Tag.MORE_MESSAGES_TO_SEND: (U8, 1),
    Tag.MESSAGE_STATE: (U8, 1),
    Tag.USSD_SERVICE_OP: (U8, 1),
    Tag.DISPLAY_TIME: (U8, 1),
    Tag.SMS_SIGNAL: (U16, 2),
    Tag.MS_VALIDITY: (U8, 1),
    Tag.ALERT_ON_MESSAGE_DELIVERY: (OCTETS, 0),
    Tag.ITS_REPLY_TYPE: (U8, 1),
    Tag.ITS_SESSION_INFO: (OCTETS, 2),
}
_TYPES = {int(tag): spec for tag, spec in TLV_TYPES.items()}

_TAG_LEN = struct.Struct(">HH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def decode_tlvs(
    buf: bytes, pos: int, end: int, seq: int, command_id: int, generic: bool
) -> dict[int, Any]:
    """Decode the TLV stream buf[pos:end] into an insertion-ordered tag -> value dict."""
    tlvs: dict[int, Any] = {}
    types = _TYPES
    while pos < end:
        if end - pos < 4:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, seq, command_id, generic,
                f"{end - pos} stray octets where a TLV header was expected",
            )
        tag, length = _TAG_LEN.unpack_from(buf, pos)
        pos += 4
        vend = pos + length
        if vend > end:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, seq, command_id, generic,
                f"TLV 0x{tag:04X} length {length} overruns the PDU body",
            )
        spec = types.get(tag)
        if spec is None:
            tlvs[tag] = buf[pos:vend]
        else:
            kind, size = spec
            if kind == U8 or kind == U16 or kind == U32:
                if length != size:
                    raise PduError(
                        CommandStatus.ESME_RINVPARLEN, seq, command_id, generic,
                        f"TLV 0x{tag:04X} has length {length}, its type needs {size}",
                    )
                if kind == U8:
                    tlvs[tag] = buf[pos]
                elif kind == U16:
                    tlvs[tag] = _U16.unpack_from(buf, pos)[0]
                else:
                    tlvs[tag] = _U32.unpack_from(buf, pos)[0]
            elif kind == CSTR:
                nul = buf.find(b"\0", pos, vend)
                tlvs[tag] = buf[pos : (vend if nul < 0 else nul)].decode("latin-1")
            else:
                if size and length != size:
                    raise PduError(
                        CommandStatus.ESME_RINVPARLEN, seq, command_id, generic,
                        f"TLV 0x{tag:04X} has length {length}, its type needs {size}",
                    )
                tlvs[tag] = buf[pos:vend]
        pos = vend
    return tlvs


def encode_tlvs(tlvs: dict[int, Any]) -> bytes:
    """Encode tag -> value in dict order; bytes values go out raw for any tag."""
    parts: list[bytes] = []
    for tag, value in tlvs.items():
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
        else:
            spec = _TYPES.get(tag)
            if spec is None:
                raise PduEncodeError(f"unknown TLV 0x{tag:04X} needs a bytes value")
            kind, size = spec
            if kind == CSTR:
                raw = value.encode("latin-1")
                if b"\0" in raw or len(raw) >= size:
                    raise PduEncodeError(f"TLV 0x{tag:04X}: C-string too long or holds NUL")
                raw += b"\0"
            elif kind == U8:
                raw = bytes((value,))
            elif kind == U16:
                raw = _U16.pack(value)
            elif kind == U32:
                raw = _U32.pack(value)
            else:
                raise PduEncodeError(f"TLV 0x{tag:04X} is an octet string: give bytes")
        if len(raw) > 0xFFFF:
            raise PduEncodeError(f"TLV 0x{tag:04X} value longer than 65535 octets")
        parts.append(_TAG_LEN.pack(tag, len(raw)))
        parts.append(raw)
    return b"".join(parts)
