"""Byte layouts of the journal's index keys, in one place so that every reader and writer agree.

Keys are built to sort usefully: ids are time-ordered hex, due times are big-endian
milliseconds, and a NUL separates a variable-length prefix (tenant, number, connector)
from what follows, so a prefix scan never runs into a longer neighbour ("ab" vs "abc").
"""

from __future__ import annotations

import struct

SEP = b"\x00"
_DUE = struct.Struct(">Q")
_DUE_MAX = (1 << 64) - 1
#: Shortest digit string treated as a phone number worth indexing for erase().
MSISDN_MIN_DIGITS = 7

# Tags in the by-msisdn index: what kind of thing the id after the tag names.
TAG_MESSAGE = b"m"
TAG_OUTBOX = b"o"
TAG_DEAD_LETTER = b"d"

# Correlation values start with one of these: the carrier id exactly as the carrier wrote
# it wins over a hex/decimal variant derived from another message's id.
CORR_PRIMARY = b"P"
CORR_VARIANT = b"V"


def due_prefix(due: float) -> bytes:
    ms = int(due * 1000)
    return _DUE.pack(0 if ms < 0 else (_DUE_MAX if ms > _DUE_MAX else ms))


def state_key(due: float, message_id: str) -> bytes:
    return due_prefix(due) + message_id.encode()


def split_state_key(key: bytes) -> tuple[float, str]:
    return _DUE.unpack_from(key)[0] / 1000.0, key[8:].decode()


def tenant_prefix(tenant: str) -> bytes:
    return tenant.encode() + SEP


def tenant_key(tenant: str, entry_id: str) -> bytes:
    return tenant.encode() + SEP + entry_id.encode()


def msisdn_digits(number: str | None) -> str | None:
    """The digits under which a number is indexed, or None when it is not a phone number
    (alphanumeric sender, short code). '+263 77…' and '26377…' index the same."""
    if not number:
        return None
    digits = number.strip().lstrip("+")
    if len(digits) < MSISDN_MIN_DIGITS or not digits.isdigit() or not digits.isascii():
        return None
    return digits


def msisdn_prefix(digits: str) -> bytes:
    return digits.encode() + SEP


def msisdn_key(digits: str, tag: bytes, entry_id: str) -> bytes:
    return digits.encode() + SEP + tag + entry_id.encode()


def correlation_key(connector: str, carrier_form: str) -> bytes:
    return connector.encode() + SEP + carrier_form.encode()
