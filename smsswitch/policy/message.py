"""The MT fields policy reads, and its text: decoded once, UDH stripped, GSM7 and UCS2 alike.

Policy sits beside routing, below the server, so it names what it needs as a Protocol
instead of importing the server's SubmitRequest (which satisfies it).
"""

from __future__ import annotations

from typing import Protocol

from smsswitch.numbers import NumberInfo
from smsswitch.smpp.concat import parse_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI
from smsswitch.smpp.text import Alphabet, DataCodingError, alphabet_for, decode_bytes

__all__ = ["MtMessage", "mt_text"]


class MtMessage(Protocol):
    """What `Policy.check_mt` reads of a submit (smsswitch.server.api.SubmitRequest fits)."""

    source: NumberInfo
    destination: NumberInfo
    data_coding: int
    esm_class: int
    payload: bytes
    part: tuple[int, int, int] | None


def mt_text(message: MtMessage) -> str | None:
    """The characters of the message (UDH removed), or None when it has none: binary
    data_coding, an unknown data_coding, or a UDH that does not parse."""
    try:
        alphabet = alphabet_for(message.data_coding, Alphabet.GSM)
    except DataCodingError:
        return None
    if alphabet is Alphabet.OCTETS:
        return None
    body = message.payload
    if message.esm_class & ESM_CLASS_UDHI:
        udh, body = parse_udh(body)
        if udh is None:
            return None
    return decode_bytes(body, alphabet)
