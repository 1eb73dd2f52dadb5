"""GSM 03.38 default alphabet: known vectors, the escape table, packing, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsswitch.smpp import gsm0338

GSM_TEXT = st.text(alphabet=sorted(gsm0338.GSM_CHARS), max_size=400)


def test_hello_packs_to_the_known_vector() -> None:
    assert gsm0338.encode_packed("hello") == bytes.fromhex("e8329bfd06")
    assert gsm0338.decode_packed(bytes.fromhex("e8329bfd06")) == "hello"


def test_hello_after_a_six_octet_udh_starts_on_a_septet_boundary() -> None:
    fill = gsm0338.fill_bits_for_udh(6)
    assert fill == 1
    packed = gsm0338.encode_packed("hello", fill)
    assert packed == bytes.fromhex("d06536fb0d")
    assert gsm0338.decode_packed(packed, fill) == "hello"


@pytest.mark.parametrize(("udh_length", "fill"), [(0, 0), (6, 1), (7, 0), (3, 4), (12, 2)])
def test_fill_bits_align_text_on_a_septet(udh_length: int, fill: int) -> None:
    assert gsm0338.fill_bits_for_udh(udh_length) == fill
    assert (udh_length * 8 + fill) % 7 == 0


def test_euro_is_escape_then_0x65() -> None:
    assert gsm0338.encode("€") == b"\x1b\x65"
    assert gsm0338.decode(b"\x1b\x65") == "€"


def test_every_extension_character_round_trips_through_escape() -> None:
    for code, char in gsm0338.EXTENSION.items():
        assert gsm0338.encode(char) == bytes((0x1B, code))
        assert gsm0338.decode(bytes((0x1B, code))) == char


def test_basic_table_landmarks() -> None:
    assert gsm0338.encode("@£$") == b"\x00\x01\x02"
    assert gsm0338.encode("Δ_ÄÖÑÜ§¿äöñüà") == bytes.fromhex("10115b5c5d5e5f607b7c7d7e7f")
    assert gsm0338.decode(b"Hello") == "Hello"


def test_septet_length_counts_extension_characters_twice() -> None:
    assert gsm0338.septet_length("") == 0
    assert gsm0338.septet_length("abc") == 3
    assert gsm0338.septet_length("a€[]{}~^\\|\f") == 1 + 2 * 10


def test_is_gsm() -> None:
    assert gsm0338.is_gsm("Hello @ £5 [ok] €")
    assert gsm0338.is_gsm("")
    assert not gsm0338.is_gsm("`backtick")
    assert not gsm0338.is_gsm("ç")  # 0x09 is Ç; lowercase c-cedilla needs UCS2
    assert not gsm0338.is_gsm("😀")


def test_encode_strict_raises_and_replace_writes_question_mark() -> None:
    with pytest.raises(UnicodeEncodeError):
        gsm0338.encode("a`b")
    assert gsm0338.encode("a`b", errors="replace") == b"a?b"


def test_decode_never_raises_on_octets_outside_the_table() -> None:
    assert gsm0338.decode(b"a\x80\xffb") == "a\ufffd\ufffdb"


def test_unknown_escapes_fall_back_to_the_basic_table_and_space() -> None:
    assert gsm0338.decode(b"\x1bA") == "A"  # no extension char at 0x41: show basic
    assert gsm0338.decode(b"\x1b\x1bA") == " A"  # ESC ESC: reserved table, shown as space
    assert gsm0338.decode(b"ab\x1b") == "ab "  # dangling ESC
    assert gsm0338.decode(b"\x1b\x80") == "\ufffd"


def test_seven_spare_bits_are_padded_with_cr_and_dropped_on_decode() -> None:
    packed = gsm0338.encode_packed("1234567")
    assert len(packed) == 7
    assert packed[-1] >> 1 == 0x0D
    assert gsm0338.decode_packed(packed) == "1234567"
    # Without CR padding those bits read as '@' when the septet count is unknown.
    bare = gsm0338.pack_septets(gsm0338.encode("1234567"), pad_with_cr=False)
    assert gsm0338.decode_packed(bare) == "1234567@"
    assert gsm0338.decode_packed(bare, septet_count=7) == "1234567"


def test_real_cr_on_an_octet_boundary_is_doubled_not_lost() -> None:
    text = "1234567\r"  # 8 septets = 7 octets exactly
    packed = gsm0338.encode_packed(text)
    assert len(packed) == gsm0338.packed_length(gsm0338.encode(text)) == 8
    assert gsm0338.decode_packed(packed) == text + "\r"


def test_packed_length_matches_packing() -> None:
    for n in range(0, 20):
        for fill in range(7):
            septets = b"a" * n
            assert gsm0338.packed_length(septets, fill) == len(gsm0338.pack_septets(septets, fill))


def test_unpack_short_inputs() -> None:
    assert gsm0338.unpack_septets(b"") == b""
    assert gsm0338.unpack_septets(b"\x00", fill_bits=6) == b""
    assert gsm0338.unpack_septets(b"\x00", fill_bits=1) == b"\x00"


@given(GSM_TEXT)
def test_unpacked_round_trip(text: str) -> None:
    encoded = gsm0338.encode(text)
    assert len(encoded) == gsm0338.septet_length(text)
    assert gsm0338.decode(encoded) == text


@given(GSM_TEXT, st.integers(min_value=0, max_value=6))
def test_packed_round_trip(text: str, fill: int) -> None:
    septets = gsm0338.encode(text)
    packed = gsm0338.encode_packed(text, fill)
    assert len(packed) == gsm0338.packed_length(septets, fill)
    assert gsm0338.decode_packed(packed, fill, septet_count=len(septets)) == text
    # Knowing only the octet length: exact, except the doubled CR the spec prescribes.
    decoded = gsm0338.decode_packed(packed, fill)
    assert decoded == text or (text.endswith("\r") and decoded == text + "\r")


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=6))
def test_decoding_arbitrary_octets_never_raises(data: bytes, fill: int) -> None:
    assert isinstance(gsm0338.decode(data), str)
    assert isinstance(gsm0338.decode_packed(data, fill), str)
