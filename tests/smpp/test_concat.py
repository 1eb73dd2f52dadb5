"""Long messages: part sizes as handsets count them, UDH reading, reassembly."""

from __future__ import annotations

import random

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from smsswitch.smpp import gsm0338
from smsswitch.smpp.concat import (
    ConcatInfo,
    ConcatMethod,
    MessageTooLong,
    Reassembler,
    Segment,
    build_concat_udh,
    count_segments,
    parse_udh,
    split_message,
)
from smsswitch.smpp.constants import CommandStatus, DataCoding
from smsswitch.smpp.text import Alphabet, DataCodingError, decode_text, encode_text

GSM_ALPHABET = sorted(gsm0338.GSM_CHARS)
UDH_METHODS = [ConcatMethod.UDH8, ConcatMethod.UDH16]


def payload_of(segment: Segment) -> bytes:
    """The message octets of one part, without any UDH."""
    if segment.message_payload is not None:
        return segment.message_payload
    if segment.udhi:
        return parse_udh(segment.short_message)[1]
    return segment.short_message


def on_air_octets(segment: Segment, data_coding: int, packed: bool = False) -> int:
    """User data octets the part takes in the SMS (GSM unpacked septets get packed)."""
    data = payload_of(segment)
    udh_length = len(segment.short_message) - len(data) if segment.udhi else 0
    if segment.sar_total_segments:
        udh_length = 6 if segment.sar_msg_ref_num <= 0xFF else 7
    if data_coding == 0 and not packed:
        # On air TP-UDL counts septets, so no CR padding rule applies there.
        fill = gsm0338.fill_bits_for_udh(udh_length)
        return udh_length + gsm0338.packed_length(data, fill, pad_with_cr=False)
    return udh_length + len(data)


# --- sizes -----------------------------------------------------------------------------


def test_160_gsm_characters_fit_one_part() -> None:
    [segment] = split_message("a" * 160, 0)
    assert segment == Segment(b"a" * 160)


def test_161_gsm_characters_split_153_plus_8() -> None:
    first, second = split_message("a" * 161, 0, ConcatMethod.UDH8, reference=0x42)
    assert first.udhi and second.udhi
    assert first.short_message[:6] == bytes.fromhex("050003420201")
    assert second.short_message[:6] == bytes.fromhex("050003420202")
    assert len(first.short_message) == 6 + 153
    assert len(second.short_message) == 6 + 8


def test_16_bit_reference_udh_leaves_152_septets() -> None:
    first, second = split_message("a" * 161, 0, ConcatMethod.UDH16, reference=0x1234)
    assert first.short_message[:7] == bytes.fromhex("06080412340201")
    assert len(first.short_message) == 7 + 152
    assert len(second.short_message) == 7 + 9


def test_extension_characters_count_two_and_pairs_never_split() -> None:
    assert count_segments("€" * 80, 0) == 1  # 160 septets
    assert count_segments("€" * 80 + "a", 0) == 2
    # 152 plain septets then a euro: 154 > 153, so the escape pair moves to part two.
    parts = split_message("a" * 152 + "€" + "b" * 10, 0)
    assert payload_of(parts[0]) == b"a" * 152
    assert payload_of(parts[1]) == b"\x1b\x65" + b"b" * 10


@pytest.mark.parametrize(
    ("length", "parts"), [(140, 1), (141, 2), (268, 2), (269, 3)]
)
def test_octet_sizes(length: int, parts: int) -> None:
    assert count_segments(b"x" * length, DataCoding.OCTET_UNSPECIFIED) == parts
    assert count_segments("é" * length, DataCoding.LATIN_1) == parts


def test_octets_with_16_bit_reference_hold_133() -> None:
    first, _ = split_message(b"x" * 141, DataCoding.OCTET_UNSPECIFIED, ConcatMethod.UDH16)
    assert len(first.short_message) == 7 + 133


@pytest.mark.parametrize(("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_sizes(length: int, parts: int) -> None:
    assert count_segments("ж" * length, DataCoding.UCS2) == parts


def test_ucs2_with_16_bit_reference_holds_66_units() -> None:
    first, second = split_message("ж" * 71, DataCoding.UCS2, ConcatMethod.UDH16)
    assert len(payload_of(first)) == 132
    assert len(payload_of(second)) == 10


def test_emoji_heavy_ucs2_never_splits_a_surrogate_pair() -> None:
    text = "😀" * 40  # 160 octets, 4 per emoji
    segments = split_message(text, DataCoding.UCS2)
    assert len(segments) == 2
    assert [len(payload_of(s)) for s in segments] == [132, 28]
    for segment in segments:
        assert decode_text(payload_of(segment), DataCoding.UCS2) == "😀" * (len(payload_of(segment)) // 4)


def test_latin1_as_data_coding_0_counts_septets_on_air() -> None:
    assert count_segments("a" * 160, 0, default_alphabet=Alphabet.LATIN1) == 1
    assert count_segments("[" * 80, 0, default_alphabet=Alphabet.LATIN1) == 1
    assert count_segments("[" * 81, 0, default_alphabet=Alphabet.LATIN1) == 2
    first, second = split_message("[" * 81, 0, default_alphabet=Alphabet.LATIN1)
    assert payload_of(first) == b"[" * 76  # 152 septets: a 77th would need 154
    assert payload_of(second) == b"[" * 5


def test_sar_parts_carry_tlv_values_and_no_udh() -> None:
    segments = split_message("a" * 400, 0, ConcatMethod.SAR, reference=0x1FF)
    assert [s.udhi for s in segments] == [False, False, False]
    assert [(s.sar_msg_ref_num, s.sar_total_segments, s.sar_segment_seqnum) for s in segments] == [
        (0x1FF, 3, 1),
        (0x1FF, 3, 2),
        (0x1FF, 3, 3),
    ]
    # A reference above 255 may need a 16-bit IE at the SMSC: parts leave room for it.
    assert len(segments[0].short_message) == 152
    assert len(split_message("a" * 400, 0, ConcatMethod.SAR, reference=7)[0].short_message) == 153


def test_payload_method_is_one_pdu() -> None:
    [segment] = split_message("a" * 1000, 0, ConcatMethod.PAYLOAD)
    assert segment.short_message == b""
    assert segment.message_payload == b"a" * 1000
    assert not segment.udhi and segment.sar_total_segments is None
    # Short text still goes in short_message.
    assert split_message("hi", 0, ConcatMethod.PAYLOAD) == [Segment(b"hi")]


def test_packed_gsm_parts_fill_exactly_140_octets() -> None:
    segments = split_message("a" * 161, 0, ConcatMethod.UDH8, packed=True)
    assert len(segments[0].short_message) == 140
    udh, payload = parse_udh(segments[0].short_message)
    assert gsm0338.decode_packed(payload, gsm0338.fill_bits_for_udh(udh.length)) == "a" * 153


def test_packed_part_ending_in_cr_on_the_boundary_moves_the_cr() -> None:
    text = "a" * 152 + "\r" + "b" * 20
    segments = split_message(text, 0, ConcatMethod.UDH8, packed=True)
    assert all(len(s.short_message) <= 140 for s in segments)
    assert len(segments) == 2


def test_empty_message_is_one_empty_part() -> None:
    assert split_message("", 0) == [Segment(b"")]
    assert split_message(b"", DataCoding.UCS2) == [Segment(b"")]


def test_too_many_parts() -> None:
    with pytest.raises(MessageTooLong) as info:
        split_message("a" * 153 * 255 + "a", 0)
    assert info.value.status == CommandStatus.ESME_RINVMSGLEN
    assert len(split_message("a" * 153 * 255, 0)) == 255


def test_reference_range_is_checked() -> None:
    with pytest.raises(ValueError):
        split_message("a" * 200, 0, ConcatMethod.UDH8, reference=256)
    with pytest.raises(ValueError):
        split_message("a" * 200, 0, ConcatMethod.UDH16, reference=0x10000)


def test_unsupported_data_coding_and_unencodable_text() -> None:
    with pytest.raises(DataCodingError):
        split_message("a", 0x05)
    with pytest.raises(UnicodeEncodeError):
        split_message("😀", 0)


# --- UDH reading -----------------------------------------------------------------------


def test_parse_udh_with_other_elements_around_concat() -> None:
    # Port addressing IE (0x05, 4 octets) then 16-bit concat IE.
    udh = bytes.fromhex("0c" "0504 0b84 23f0" "0804 beef 03 02".replace(" ", ""))
    parsed, payload = parse_udh(udh + b"body")
    assert payload == b"body"
    assert parsed.length == 13
    assert parsed.elements[0] == (0x05, bytes.fromhex("0b8423f0"))
    assert parsed.concat == ConcatInfo(0xBEEF, 3, 2, 16)


def test_parse_udh_ignores_invalid_concat_and_tolerates_truncated_elements() -> None:
    assert parse_udh(bytes.fromhex("050003010300") + b"x")[0].concat is None  # seq 0
    assert parse_udh(bytes.fromhex("050003010004") + b"x")[0].concat is None  # total 0
    assert parse_udh(bytes.fromhex("050003010304") + b"x")[0].concat is None  # seq > total
    parsed, payload = parse_udh(bytes.fromhex("07000301020105ff") + b"x")
    assert parsed.concat == ConcatInfo(1, 2, 1, 8)
    assert payload == b"x"


def test_parse_udh_without_a_readable_header() -> None:
    assert parse_udh(b"") == (None, b"")
    assert parse_udh(b"\x09abc") == (None, b"\x09abc")


def test_build_concat_udh_round_trips() -> None:
    assert parse_udh(build_concat_udh(200, 4, 3))[0].concat == ConcatInfo(200, 4, 3, 8)
    assert parse_udh(build_concat_udh(60000, 4, 3, True))[0].concat == ConcatInfo(60000, 4, 3, 16)


# --- reassembly ------------------------------------------------------------------------


def test_reassembly_in_any_order_with_duplicates() -> None:
    r = Reassembler(max_pending_messages=10, max_age=60.0)
    assert r.add("k", 7, 3, 3, b"C", now=0.0) is None
    assert r.add("k", 7, 3, 1, b"A", now=1.0) is None
    assert r.add("k", 7, 3, 1, b"X", now=1.5) is None  # duplicate keeps the first
    assert r.add("k", 7, 3, 2, b"B", now=2.0) == b"ABC"
    assert len(r) == 0


def test_single_part_passes_straight_through() -> None:
    assert Reassembler(1, 1.0).add("k", 1, 1, 1, b"x", now=0.0) == b"x"


def test_same_reference_from_different_keys_stays_apart() -> None:
    r = Reassembler(10, 60.0)
    assert r.add("a", 1, 2, 1, b"a1", 0.0) is None
    assert r.add("b", 1, 2, 2, b"b2", 0.0) is None
    assert r.add("a", 1, 2, 2, b"a2", 0.0) == b"a1a2"
    assert r.add("b", 1, 2, 1, b"b1", 0.0) == b"b1b2"


def test_expire_reports_old_incomplete_messages() -> None:
    r = Reassembler(10, max_age=30.0)
    r.add("old", 1, 2, 1, b"x", now=0.0)
    r.add("new", 1, 2, 2, b"y", now=20.0)
    assert r.expire(now=29.0) == []
    [expired] = r.expire(now=30.0)
    assert (expired.key, expired.reference, expired.total, expired.parts) == ("old", 1, 2, ((1, b"x"),))
    assert not expired.evicted
    assert len(r) == 1


def test_beyond_max_pending_the_oldest_is_evicted_and_reported() -> None:
    r = Reassembler(max_pending_messages=2, max_age=60.0)
    r.add("a", 1, 2, 1, b"a", 0.0)
    r.add("b", 1, 2, 1, b"b", 1.0)
    r.add("c", 1, 2, 1, b"c", 2.0)
    assert len(r) == 2
    [evicted] = r.expire(now=3.0)
    assert evicted.key == "a" and evicted.evicted
    assert r.expire(now=3.0) == []
    assert r.add("b", 1, 2, 2, b"B", 4.0) == b"bB"


@pytest.mark.parametrize(("total", "seq"), [(0, 0), (2, 0), (2, 3), (256, 1)])
def test_invalid_part_numbers(total: int, seq: int) -> None:
    with pytest.raises(ValueError):
        Reassembler(2, 1.0).add("k", 1, total, seq, b"", 0.0)


# --- properties ------------------------------------------------------------------------

# Sizes start near one part so that most examples need two or more.
ENCODINGS = [
    (DataCoding.DEFAULT, st.text(alphabet=GSM_ALPHABET, min_size=120, max_size=500)),
    (DataCoding.UCS2, st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=50, max_size=200)),
    (DataCoding.UCS2, st.text(alphabet="a😀ж🎉", min_size=50, max_size=200)),
    (DataCoding.OCTET_UNSPECIFIED, st.binary(min_size=120, max_size=500)),
]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(range(len(ENCODINGS))).flatmap(
        lambda i: st.tuples(st.just(ENCODINGS[i][0]), ENCODINGS[i][1])
    ),
    st.sampled_from([ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR]),
    st.integers(min_value=0, max_value=0xFFFF),
    st.randoms(use_true_random=False),
)
def test_split_then_reassemble_gives_back_the_original(
    case: tuple[int, str | bytes], method: ConcatMethod, reference: int, rnd: random.Random
) -> None:
    data_coding, message = case
    if method is ConcatMethod.UDH8:
        reference &= 0xFF
    original = encode_text(message, data_coding) if isinstance(message, str) else message
    segments = split_message(message, data_coding, method, reference)
    assert len(segments) == count_segments(message, data_coding, method, reference)
    event(f"multipart={len(segments) > 1}")
    for segment in segments:
        assert on_air_octets(segment, data_coding) <= 140
    if len(segments) == 1:
        assert segments[0].short_message == original
        return
    # Deliver every part once or twice, shuffled.
    arrivals = []
    for segment in segments:
        if segment.udhi:
            udh, payload = parse_udh(segment.short_message)
            ref, total, seq = udh.concat.reference, udh.concat.total, udh.concat.sequence
        else:
            ref, total, seq = segment.sar_msg_ref_num, segment.sar_total_segments, segment.sar_segment_seqnum
            payload = segment.short_message
        assert ref == reference and total == len(segments)
        arrivals.extend([(seq, payload)] * rnd.randint(1, 2))
    if isinstance(message, str):
        # Each part decodes on its own: no escape or surrogate pair was cut in two.
        assert "".join(decode_text(payload, data_coding) for _, payload in sorted(set(arrivals))) == message
    rnd.shuffle(arrivals)
    r = Reassembler(4, 60.0)
    results = [r.add("k", reference, len(segments), seq, payload, 0.0) for seq, payload in arrivals]
    whole = [x for x in results if x is not None]
    assert whole[0] == original
    if isinstance(message, str):
        assert decode_text(whole[0], data_coding) == message


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=GSM_ALPHABET, min_size=150, max_size=600), st.sampled_from(UDH_METHODS))
def test_packed_parts_fit_and_decode_back(text: str, method: ConcatMethod) -> None:
    segments = split_message(text, 0, method, 3, packed=True)
    decoded = []
    for segment in segments:
        assert len(segment.short_message) <= 140
        if segment.udhi:
            udh, payload = parse_udh(segment.short_message)
            decoded.append(gsm0338.unpack_septets(payload, gsm0338.fill_bits_for_udh(udh.length)))
        else:
            decoded.append(gsm0338.unpack_septets(segment.short_message))
    # Each part may have gained a CR (23.038 padding rule); nothing else changes.
    assert gsm0338.decode(b"".join(decoded)).replace("\r", "") == text.replace("\r", "")


@given(st.binary(max_size=200))
def test_parse_udh_never_raises(data: bytes) -> None:
    udh, payload = parse_udh(data)
    assert udh is None or udh.length + len(payload) == len(data)
