"""Text by data_coding: decoding what peers send, encoding what we send, choosing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsswitch.smpp import gsm0338
from smsswitch.smpp.constants import CommandStatus, DataCoding
from smsswitch.smpp.text import (
    Alphabet,
    DataCodingError,
    alphabet_for,
    choose_encoding,
    decode_text,
    encode_text,
)


def test_data_coding_0_is_gsm_by_default_and_per_connector_otherwise() -> None:
    assert decode_text(b"\x1b\x65 \x00", 0) == "€ @"
    assert decode_text(b"caf\xe9", 0, Alphabet.LATIN1) == "café"
    assert decode_text(b"abc\x00", 0, Alphabet.ASCII) == "abc\x00"
    assert encode_text("café", 0, Alphabet.LATIN1) == b"caf\xe9"


def test_ia5_latin1_and_octets() -> None:
    assert decode_text(b"Hi!", DataCoding.IA5) == "Hi!"
    assert decode_text(b"a\xffb", DataCoding.IA5) == "a\ufffdb"
    assert decode_text(b"\xe9\xe8", DataCoding.LATIN_1) == "éè"
    assert decode_text(b"\x00\xff", DataCoding.OCTET_UNSPECIFIED) == "\x00\xff"
    assert decode_text(b"\x00\xff", DataCoding.OCTET_UNSPECIFIED_2) == "\x00\xff"
    assert encode_text("\x00\xff", DataCoding.OCTET_UNSPECIFIED) == b"\x00\xff"


def test_ucs2_is_utf16be_with_surrogate_pairs() -> None:
    assert encode_text("Aж", DataCoding.UCS2) == b"\x00A\x04\x36"
    assert encode_text("😀", DataCoding.UCS2) == b"\xd8\x3d\xde\x00"
    assert decode_text(b"\xd8\x3d\xde\x00\x00A", DataCoding.UCS2) == "😀A"


def test_broken_ucs2_decodes_with_replacement() -> None:
    assert decode_text(b"\x00A\x00", DataCoding.UCS2) == "A\ufffd"  # odd length
    assert decode_text(b"\xd8\x3d\x00A", DataCoding.UCS2) == "\ufffdA"  # lone high surrogate


def test_cyrillic_and_hebrew() -> None:
    assert decode_text("Привет".encode("iso8859_5"), DataCoding.CYRILLIC) == "Привет"
    assert decode_text("שלום".encode("iso8859_8"), DataCoding.LATIN_HEBREW) == "שלום"


@pytest.mark.parametrize(
    ("data_coding", "alphabet"),
    [
        (0x10, Alphabet.GSM),  # class 0 (flash) GSM
        (0x11, Alphabet.GSM),
        (0x14, Alphabet.OCTETS),
        (0x18, Alphabet.UCS2),  # class 0 UCS2
        (0xF0, Alphabet.GSM),  # flash
        (0xF1, Alphabet.GSM),
        (0xF4, Alphabet.OCTETS),
        (0xF5, Alphabet.OCTETS),
        (0xC8, Alphabet.GSM),
        (0xE0, Alphabet.UCS2),
    ],
)
def test_gsm_dcs_groups_resolve_by_alphabet_bits(data_coding: int, alphabet: Alphabet) -> None:
    assert alphabet_for(data_coding) is alphabet


@pytest.mark.parametrize("data_coding", [0x05, 0x09, 0x0A, 0x0B, 0x0D, 0x0E, 0x0F, 0x1C, 0x20, 0x80, 256, -1])
def test_unsupported_data_coding_is_a_clear_error_with_its_status(data_coding: int) -> None:
    with pytest.raises(DataCodingError) as info:
        decode_text(b"x", data_coding)
    assert info.value.status == CommandStatus.ESME_RINVDCS
    assert info.value.data_coding == data_coding
    with pytest.raises(DataCodingError):
        encode_text("x", data_coding)


def test_encode_strict_refuses_what_the_alphabet_cannot_hold() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_text("😀", 0)
    with pytest.raises(UnicodeEncodeError):
        encode_text("€", DataCoding.LATIN_1)
    assert encode_text("a😀", 0, errors="replace") == b"a?"


def test_choose_encoding() -> None:
    assert choose_encoding("") == DataCoding.DEFAULT
    assert choose_encoding("Hello €uro [x]") == DataCoding.DEFAULT
    assert choose_encoding("garçon") == DataCoding.UCS2
    assert choose_encoding("garçon", allow_latin1=True) == DataCoding.LATIN_1
    assert choose_encoding("héllo 😀", allow_latin1=True) == DataCoding.UCS2
    assert choose_encoding("Привет") == DataCoding.UCS2
    # GSM text stays GSM even with Latin-1 allowed, unless escapes make GSM cost more parts.
    assert choose_encoding("é" * 100, allow_latin1=True) == DataCoding.DEFAULT
    assert choose_encoding("{" * 100, allow_latin1=True) == DataCoding.LATIN_1
    assert choose_encoding("{" * 100) == DataCoding.DEFAULT


@given(st.text(max_size=200))
def test_chosen_encoding_holds_the_text_exactly(text: str) -> None:
    for allow_latin1 in (False, True):
        data_coding = choose_encoding(text, allow_latin1)
        try:
            encoded = encode_text(text, data_coding)
        except UnicodeEncodeError:
            # Only lone surrogates (not real characters) cannot be sent at all.
            assert any("\ud800" <= c <= "\udfff" for c in text)
            continue
        assert decode_text(encoded, data_coding) == text
        if data_coding == DataCoding.DEFAULT:
            assert gsm0338.is_gsm(text)


@given(st.binary(max_size=200), st.sampled_from([0, 1, 2, 3, 4, 6, 7, 8, 0x11, 0x18, 0xF0, 0xF6]))
def test_decoding_never_raises_for_supported_data_codings(data: bytes, data_coding: int) -> None:
    assert isinstance(decode_text(data, data_coding), str)
