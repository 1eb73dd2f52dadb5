"""GSM 03.38 (3GPP TS 23.038) default alphabet: the text encoding behind data_coding 0.

SMPP carries GSM text *unpacked* (one septet per octet); the air interface and some
carriers want it *packed* (eight septets in seven octets), and after a User Data Header
the packed text must start on a septet boundary, so `fill_bits` zero bits come first.

Characters of the extension table cost two septets: ESC (0x1B) then the code.
All conversions are table driven (C-level codecs.charmap_* and str.translate).
"""

from __future__ import annotations

import codecs

#: Shown for octets that have no GSM meaning (>= 0x80 in unpacked text).
REPLACEMENT_CHAR = "\ufffd"
#: Septet that switches to the extension table.
ESCAPE = 0x1B
#: Septet used to pad packed text where 7 spare bits would otherwise read as "@".
CR = 0x0D

# Basic table, septet 0x00..0x7F; 0x1B (ESC) is a placeholder, never produced by decoding.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128

#: Extension table (after ESC): code -> character.
EXTENSION: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

#: Every character of the basic table (ESC excluded) and of the extension table.
BASIC_CHARS = frozenset(_BASIC) - {"\x1b"}
EXTENSION_CHARS = frozenset(EXTENSION.values())
GSM_CHARS = BASIC_CHARS | EXTENSION_CHARS

_ENCODE_MAP: dict[int, int | bytes] = {ord(c): i for i, c in enumerate(_BASIC) if i != ESCAPE}
_ENCODE_MAP.update({ord(c): bytes((ESCAPE, code)) for code, c in EXTENSION.items()})


class _Unmappable(Exception):
    pass


class _StrictTable(dict):  # type: ignore[type-arg]
    """str.translate table (character -> septet string) that refuses unknown characters."""

    __slots__ = ()

    def __missing__(self, code: int) -> str:
        raise _Unmappable


class _ReplaceTable(dict):  # type: ignore[type-arg]
    __slots__ = ()

    def __missing__(self, code: int) -> str:
        return "?"


# str.translate + latin-1 is ~10x faster than codecs.charmap_encode on ASCII-heavy text
# (translate caches ASCII lookups); septets 0x00-0x7F are their own latin-1 code points.
_SEPTET_STRINGS = {
    code: chr(value) if isinstance(value, int) else value.decode("latin-1")
    for code, value in _ENCODE_MAP.items()
}
_STRICT_TABLE = _StrictTable(_SEPTET_STRINGS)
_REPLACE_TABLE = _ReplaceTable(_SEPTET_STRINGS)

# 256-entry decoding table for codecs.charmap_decode: octets >= 0x80 are not septets.
_DECODE_TABLE = _BASIC + REPLACEMENT_CHAR * 128

# Decoding of the octet after ESC: the extension character, else (23.038 6.2.1.1) the
# basic-table character, and ESC ESC (reserved for a further table) as a space.
_ESCAPED: dict[int, str] = {i: _BASIC[i] for i in range(128)}
_ESCAPED.update(EXTENSION)
_ESCAPED[ESCAPE] = " "

_EXTENSION_TO_DROP = {ord(c): None for c in BASIC_CHARS}


def is_gsm(text: str) -> bool:
    """True if every character of `text` is in the default alphabet or its extension."""
    return GSM_CHARS.issuperset(text)


def septet_length(text: str) -> int:
    """Septets `text` needs: extension characters count two (ESC + code).

    Characters outside the alphabet count one (they would be sent as '?').
    """
    if EXTENSION_CHARS.isdisjoint(text):
        return len(text)
    return len(text) + sum(map(text.count, EXTENSION_CHARS))


def encode(text: str, errors: str = "strict") -> bytes:
    """Encode to unpacked septets (one per octet).

    errors="strict" raises UnicodeEncodeError on a character outside the alphabet;
    "replace" writes '?' instead.
    """
    # translate's fast path only holds while every character maps to one septet.
    if EXTENSION_CHARS.isdisjoint(text):
        if errors == "strict":
            try:
                return text.translate(_STRICT_TABLE).encode("latin-1")
            except _Unmappable:
                pass  # let the codec raise UnicodeEncodeError with the position
        elif errors == "replace":
            return text.translate(_REPLACE_TABLE).encode("latin-1")
    return codecs.charmap_encode(text, errors, _ENCODE_MAP)[0]


def decode(data: bytes) -> str:
    """Decode unpacked septets. Never raises: octets >= 0x80 become REPLACEMENT_CHAR."""
    if ESCAPE not in data:
        return codecs.charmap_decode(data, "strict", _DECODE_TABLE)[0]
    parts = data.split(b"\x1b")
    out = [codecs.charmap_decode(parts[0], "strict", _DECODE_TABLE)[0]]
    # parts[k] (k >= 1) follows an ESC; an empty part means ESC ESC or a trailing ESC.
    k, last = 1, len(parts) - 1
    while k <= last:
        part = parts[k]
        if part:
            code = part[0]
            out.append(_ESCAPED.get(code, REPLACEMENT_CHAR))
            out.append(codecs.charmap_decode(part[1:], "strict", _DECODE_TABLE)[0])
            k += 1
        elif k == last:  # ESC as the very last octet: nothing to escape.
            out.append(" ")
            k += 1
        else:  # ESC ESC: one unsupported escape; the next part is plain text again.
            out.append(" ")
            out.append(codecs.charmap_decode(parts[k + 1], "strict", _DECODE_TABLE)[0])
            k += 2
    return "".join(out)


def fill_bits_for_udh(udh_length: int) -> int:
    """Zero bits between a UDH of `udh_length` octets (incl. UDHL) and packed text."""
    return (7 - (udh_length * 8) % 7) % 7


def packed_length(septets: bytes, fill_bits: int = 0, pad_with_cr: bool = True) -> int:
    """Octets pack_septets(septets, fill_bits, pad_with_cr) returns, without packing."""
    count = len(septets)
    if pad_with_cr and count and septets[-1] == CR and (fill_bits + 7 * count) % 8 == 0:
        count += 1
    return (fill_bits + 7 * count + 7) // 8


def pack_septets(septets: bytes, fill_bits: int = 0, pad_with_cr: bool = True) -> bytes:
    """Pack septets LSB first, after `fill_bits` zero bits.

    With `pad_with_cr` the two rules of 23.038 6.1.2.3.1 apply, since a receiver that
    only knows the octet length cannot tell 7 zero spare bits from a trailing '@':
    7 spare bits at the end are filled with CR (which the receiver drops), and text that
    ends with a real CR exactly on an octet boundary gets one more CR (so that CR is kept;
    the receiver then shows CR CR, which the spec defines to mean the same as CR).
    """
    if pad_with_cr and septets and septets[-1] == CR and (fill_bits + 7 * len(septets)) % 8 == 0:
        septets = bytes(septets) + b"\r"
    out = bytearray()
    acc = 0
    bits = fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << bits
        bits += 7
        if bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        if pad_with_cr and bits == 1:
            acc |= CR << 1
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, fill_bits: int = 0, septet_count: int | None = None) -> bytes:
    """Unpack septets (one per octet) from packed `data` that starts with `fill_bits`.

    Without `septet_count` every whole septet is returned, except a last CR that sits in
    what were 7 spare bits (the padding pack_septets writes).
    """
    total_bits = len(data) * 8 - fill_bits
    if total_bits <= 0:
        return b""
    available = total_bits // 7
    count = available if septet_count is None else min(septet_count, available)
    out = bytearray()
    acc = 0
    bits = 0
    index = 0
    skip = fill_bits
    for octet in data:
        acc |= octet << bits
        bits += 8
        if skip:
            acc >>= skip
            bits -= skip
            skip = 0
        while bits >= 7 and index < count:
            out.append(acc & 0x7F)
            acc >>= 7
            bits -= 7
            index += 1
        if index >= count:
            break
    if septet_count is None and total_bits % 7 == 0 and out and out[-1] == CR:
        # The last septet may be 7 spare bits the sender filled with CR: padding, not text.
        del out[-1]
    return bytes(out)


def encode_packed(text: str, fill_bits: int = 0, errors: str = "strict") -> bytes:
    """Encode `text` as packed 7-bit, starting after `fill_bits` zero bits."""
    return pack_septets(encode(text, errors), fill_bits)


def decode_packed(data: bytes, fill_bits: int = 0, septet_count: int | None = None) -> str:
    """Decode packed 7-bit text (see unpack_septets for `septet_count`). Never raises."""
    return decode(unpack_septets(data, fill_bits, septet_count))
