"""Text of short_message / message_payload by data_coding: decode, encode, choose.

data_coding 0 is "SMSC default alphabet": GSM 03.38 for most carriers, but some mean
Latin-1 or ASCII by it, so callers pass the connector's `default_alphabet`. Besides the
SMPP 3.4 values (0x00-0x0E) the GSM 03.38 DCS groups that carriers send through SMPP
(e.g. 0x10-0x1B with a message class, 0xF0-0xF7 flash/class) are understood by their
alphabet bits. Anything else raises DataCodingError (answer ESME_RINVDCS).
"""

from __future__ import annotations

import enum

from smsswitch.smpp import gsm0338
from smsswitch.smpp.constants import CommandStatus, DataCoding


class Alphabet(enum.Enum):
    """How the octets of a message map to characters."""

    GSM = "gsm"  # GSM 03.38 unpacked, one septet per octet
    ASCII = "ascii"  # IA5
    LATIN1 = "latin1"  # ISO-8859-1
    CYRILLIC = "cyrillic"  # ISO-8859-5
    HEBREW = "hebrew"  # ISO-8859-8
    UCS2 = "ucs2"  # UTF-16BE (surrogate pairs for characters beyond the BMP)
    OCTETS = "octets"  # binary, no characters


class DataCodingError(ValueError):
    """data_coding is unknown or not supported here; the peer gets ESME_RINVDCS."""

    status = CommandStatus.ESME_RINVDCS

    def __init__(self, data_coding: int) -> None:
        super().__init__(f"unsupported data_coding 0x{data_coding:02X}")
        self.data_coding = data_coding


#: The alphabets a connector may declare for data_coding 0.
DEFAULT_ALPHABETS = (Alphabet.GSM, Alphabet.LATIN1, Alphabet.ASCII)


def _build_alphabet_table() -> tuple[Alphabet | None, ...]:
    """Alphabet by data_coding 0..255; None = unsupported. Index 0 is decided per call."""
    table: list[Alphabet | None] = [None] * 256
    table[DataCoding.IA5] = Alphabet.ASCII
    table[DataCoding.OCTET_UNSPECIFIED_2] = Alphabet.OCTETS
    table[DataCoding.LATIN_1] = Alphabet.LATIN1
    table[DataCoding.OCTET_UNSPECIFIED] = Alphabet.OCTETS
    table[DataCoding.CYRILLIC] = Alphabet.CYRILLIC
    table[DataCoding.LATIN_HEBREW] = Alphabet.HEBREW
    table[DataCoding.UCS2] = Alphabet.UCS2
    by_bits = (Alphabet.GSM, Alphabet.OCTETS, Alphabet.UCS2, None)  # DCS bits 3-2
    # GSM 03.38 general data coding with a message class (0x10-0x1F), uncompressed, and
    # the "marked for automatic deletion" group (0x50-0x5F). 0x00-0x0F keep SMPP meanings.
    for dcs in (*range(0x10, 0x20), *range(0x50, 0x60)):
        table[dcs] = by_bits[(dcs >> 2) & 0x03]
    for dcs in range(0xC0, 0xE0):  # message waiting indication, GSM text
        table[dcs] = Alphabet.GSM
    for dcs in range(0xE0, 0xF0):  # message waiting indication, UCS2 text
        table[dcs] = Alphabet.UCS2
    for dcs in range(0xF0, 0x100):  # data coding / message class: bit 2 = 8-bit data
        table[dcs] = Alphabet.OCTETS if dcs & 0x04 else Alphabet.GSM
    return tuple(table)


_ALPHABET_BY_DATA_CODING = _build_alphabet_table()


def alphabet_for(data_coding: int, default_alphabet: Alphabet = Alphabet.GSM) -> Alphabet:
    """The alphabet of `data_coding`; 0 means the connector's `default_alphabet`."""
    if data_coding == 0:
        return default_alphabet
    alphabet = _ALPHABET_BY_DATA_CODING[data_coding] if 0 <= data_coding < 256 else None
    if alphabet is None:
        raise DataCodingError(data_coding)
    return alphabet


def decode_bytes(data: bytes, alphabet: Alphabet) -> str:
    """Decode octets of a known alphabet. Never raises: bad octets become U+FFFD.

    OCTETS decode as Latin-1 (one character per octet, lossless) so that binary content
    can still be logged or matched without a special case.
    """
    if alphabet is Alphabet.GSM:
        return gsm0338.decode(data)
    if alphabet is Alphabet.UCS2:
        return data.decode("utf-16-be", "replace")
    return data.decode(_PYTHON_CODEC[alphabet], "replace")


def encode_str(text: str, alphabet: Alphabet, errors: str = "strict") -> bytes:
    """Encode `text` in `alphabet`; errors="strict" raises UnicodeEncodeError."""
    if alphabet is Alphabet.GSM:
        return gsm0338.encode(text, errors)
    if alphabet is Alphabet.UCS2:
        return text.encode("utf-16-be", errors)
    return text.encode(_PYTHON_CODEC[alphabet], errors)


_PYTHON_CODEC = {
    Alphabet.ASCII: "ascii",
    Alphabet.LATIN1: "latin-1",
    Alphabet.CYRILLIC: "iso8859_5",
    Alphabet.HEBREW: "iso8859_8",
    Alphabet.OCTETS: "latin-1",
}


def decode_text(data: bytes, data_coding: int, default_alphabet: Alphabet = Alphabet.GSM) -> str:
    """Text of a short_message or message_payload. Raises only DataCodingError."""
    return decode_bytes(data, alphabet_for(data_coding, default_alphabet))


def encode_text(
    text: str,
    data_coding: int,
    default_alphabet: Alphabet = Alphabet.GSM,
    errors: str = "strict",
) -> bytes:
    """Octets of `text` in `data_coding`.

    Raises DataCodingError for an unsupported data_coding, UnicodeEncodeError (strict)
    for text the alphabet cannot hold.
    """
    return encode_str(text, alphabet_for(data_coding, default_alphabet), errors)


def _parts(units: int, single: int, per_part: int) -> int:
    return 1 if units <= single else -(-units // per_part)


def choose_encoding(text: str, allow_latin1: bool = False) -> int:
    """The cheapest data_coding that holds `text` exactly: 0 (GSM), 3 (Latin-1) or 8 (UCS2).

    GSM whenever every character is in the default alphabet or its extension; Latin-1
    only when `allow_latin1` and it needs fewer parts than GSM (text heavy with
    extension characters such as brackets) or GSM cannot hold the text; UCS2 otherwise.
    """
    if gsm0338.is_gsm(text):
        if allow_latin1 and not gsm0338.EXTENSION_CHARS.isdisjoint(text) and _latin1_fits(text):
            gsm_parts = _parts(gsm0338.septet_length(text), 160, 153)
            if _parts(len(text), 140, 134) < gsm_parts:
                return DataCoding.LATIN_1
        return DataCoding.DEFAULT
    if allow_latin1 and _latin1_fits(text):
        return DataCoding.LATIN_1
    return DataCoding.UCS2


def _latin1_fits(text: str) -> bool:
    return not text or max(text) <= "\xff"
