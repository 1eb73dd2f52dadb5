"""Raw SMPP octets for the benchmark's load client (smsswitch/loadclient.py).

The load client shares the machine's cores with the daemon it measures, so what it spends
per message is taken from the switch. Through the full sans-IO `Session` (a PDU object, an
event and the codec each way) it cost 26 µs per message at the 60k peak and 82 µs at
3,000 submits/s: 12-17 % of all the CPU of a run. It only needs a few fields, so it builds
its submit_sm from octets and reads just the header, the submit_sm_resp's message_id and the
deliver_sm's receipted_message_id. tests/bench/test_loadwire.py checks every helper against
the project's codec (and smpplib's parser), so the bytes on the wire are the same SMPP 3.4.
"""

from __future__ import annotations

import struct

from smsswitch.smpp.constants import CommandId, CommandStatus, Tag

HEADER = struct.Struct(">IIII")
_TLV_HEAD = struct.Struct(">HH")
SUBMIT_SM = int(CommandId.SUBMIT_SM)
SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
DELIVER_SM = int(CommandId.DELIVER_SM)
DELIVER_SM_RESP = int(CommandId.DELIVER_SM_RESP)
ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
ENQUIRE_LINK_RESP = int(CommandId.ENQUIRE_LINK_RESP)
UNBIND = int(CommandId.UNBIND)
UNBIND_RESP = int(CommandId.UNBIND_RESP)
GENERIC_NACK = int(CommandId.GENERIC_NACK)
RESPONSE_BIT = 0x80000000
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_RINVCMDID = int(CommandStatus.ESME_RINVCMDID)


class SubmitSmBuilder:
    """submit_sm octets for one source address: everything but the sequence number,
    destination and message fields is fixed, so it is joined once."""

    __slots__ = ("_head",)

    def __init__(self, source_addr: str, source_ton: int = 5, source_npi: int = 0) -> None:
        # service_type "", source_addr_ton, source_addr_npi, source_addr, dest_addr_ton 1, dest_addr_npi 1
        self._head = b"\0" + bytes((source_ton, source_npi)) + source_addr.encode("ascii") + b"\0\x01\x01"

    def build(self, sequence: int, destination: bytes, esm_class: int, data_coding: int, short_message: bytes) -> bytes:
        """One submit_sm asking for a receipt (registered_delivery 1)."""
        # destination_addr, esm_class, protocol_id, priority_flag, schedule_delivery_time "",
        # validity_period "", registered_delivery 1, replace_if_present 0, data_coding,
        # sm_default_msg_id 0, sm_length, short_message
        body = b"".join((
            self._head, destination, b"\0", bytes((esm_class, 0, 0, 0, 0, 1, 0, data_coding, 0, len(short_message))),
            short_message,
        ))  # fmt: skip
        return HEADER.pack(16 + len(body), SUBMIT_SM, 0, sequence) + body


def response(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    """A response (or generic_nack) PDU with `body` after the header."""
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def deliver_sm_resp(sequence: int) -> bytes:
    """deliver_sm_resp ESME_ROK: its message_id is unused and NULL (SMPP 3.4, 4.6.2)."""
    return response(DELIVER_SM_RESP, sequence, b"\0")


def unsupported(sequence: int) -> bytes:
    """generic_nack ESME_RINVCMDID: what the client answers a request it does not serve."""
    return response(GENERIC_NACK, sequence, status=_RINVCMDID)


def message_id(frame: bytes) -> str:
    """A submit_sm_resp's message_id (C-octet string after the header; empty if absent)."""
    end = frame.find(b"\0", 16)
    return frame[16 : end if end >= 0 else len(frame)].decode("latin-1")


def receipted_message_id(frame: bytes) -> str | None:
    """A deliver_sm's receipted_message_id TLV, None if it has none (not a receipt).
    Raises ValueError (IndexError) for a deliver_sm whose mandatory part is cut short."""
    index = frame.index
    pos = index(0, 16) + 3  # service_type, source_addr_ton, source_addr_npi
    pos = index(0, pos) + 3  # source_addr, dest_addr_ton, dest_addr_npi
    pos = index(0, pos) + 4  # destination_addr, esm_class, protocol_id, priority_flag
    pos = index(0, pos) + 1  # schedule_delivery_time
    pos = index(0, pos) + 5  # validity_period, registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    pos += 1 + frame[pos]  # sm_length, short_message
    end = len(frame)
    while pos + 4 <= end:
        tag, length = _TLV_HEAD.unpack_from(frame, pos)
        pos += 4
        if tag == _RECEIPTED_MESSAGE_ID:
            value = frame[pos : pos + length]
            cut = value.find(b"\0")
            return (value if cut < 0 else value[:cut]).decode("latin-1")
        pos += length
    return None
