"""Property tests: random valid PDUs round-trip; any bytes decode or fail with PduError only;
the framer yields the same frames whatever the chunking."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsswitch.smpp import pdu as P
from smsswitch.smpp._tlv import CSTR, OCTETS, TLV_TYPES, U8, U16, U32
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.errors import PduEncodeError, PduError
from smsswitch.smpp.framer import Framer

FAST = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

u8 = st.integers(0, 255)
u32 = st.integers(0, 0xFFFFFFFF)


def cstr(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_size - 1)


sme = st.builds(P.SmeAddress, u8, u8, cstr(21))
dl = st.builds(P.DistributionList, cstr(21))
unsuccess = st.builds(P.UnsuccessSme, u8, u8, cstr(21), u32)


def tlv_value(tag: int) -> st.SearchStrategy[Any]:
    kind, size = TLV_TYPES[tag]
    if kind == U8:
        return u8
    if kind == U16:
        return st.integers(0, 0xFFFF)
    if kind == U32:
        return u32
    if kind == CSTR:
        return cstr(size)
    assert kind == OCTETS
    return st.binary(min_size=size, max_size=size) if size else st.binary(max_size=300)


known_tlv = st.sampled_from(sorted(TLV_TYPES)).flatmap(
    lambda tag: st.tuples(st.just(int(tag)), tlv_value(tag))
)
unknown_tlv = st.tuples(
    st.integers(0, 0xFFFF).filter(lambda t: t not in TLV_TYPES), st.binary(max_size=40)
)
tlv_dicts = st.lists(st.one_of(known_tlv, unknown_tlv), max_size=6).map(dict)


def pdu_strategy(cls: type[P.Pdu]) -> st.SearchStrategy[P.Pdu]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, wire in P.wire_fields(cls):
        if wire.kind == "cstr":
            fields[name] = cstr(wire.max_size)
        elif wire.kind == "u8":
            fields[name] = u8
        elif wire.kind == "sm":
            fields[name] = st.binary(max_size=254)
        elif wire.kind == "dests":
            fields[name] = st.lists(st.one_of(sme, dl), min_size=1, max_size=5)
        elif wire.kind == "unsuccess":
            fields[name] = st.lists(unsuccess, max_size=5)
        else:
            raise AssertionError(wire.kind)
    return st.builds(cls, sequence_number=u32, command_status=u32, tlvs=tlv_dicts, **fields)


any_pdu = st.sampled_from(list(P.PDU_CLASSES.values())).flatmap(pdu_strategy)


@FAST
@given(any_pdu)
def test_random_valid_pdus_round_trip(pdu: P.Pdu) -> None:
    frame = encode_pdu(pdu)
    decoded = decode_pdu(frame)
    assert decoded == pdu
    assert list(decoded.tlvs) == list(pdu.tlvs)
    assert encode_pdu(decoded) == frame


def _decode_only_pdu_error(frame: bytes) -> None:
    try:
        decoded = decode_pdu(frame)
    except PduError as err:
        assert isinstance(err.generic_nack, bool)
        assert 0 < int(err.status) <= 0xFFFF
        return
    # Whatever decodes must either re-encode or be refused cleanly (lenient reads of
    # responses accept values we would never emit).
    try:
        encode_pdu(decoded)
    except PduEncodeError:
        pass


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_pdu_error(data: bytes) -> None:
    _decode_only_pdu_error(data)


@FAST
@given(st.sampled_from(sorted(P.PDU_CLASSES)), u32, st.binary(max_size=300))
def test_random_bodies_of_known_commands_raise_only_pdu_error(
    command_id: int, seq: int, body: bytes
) -> None:
    _decode_only_pdu_error(struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body)


@FAST
@given(any_pdu, st.data())
def test_mutated_valid_pdus_raise_only_pdu_error(pdu: P.Pdu, data: st.DataObject) -> None:
    frame = bytearray(encode_pdu(pdu))
    body_len = len(frame) - 16
    if body_len:
        for _ in range(data.draw(st.integers(1, 4))):
            at = 16 + data.draw(st.integers(0, body_len - 1))
            frame[at] = data.draw(u8)
        cut = data.draw(st.integers(16, len(frame)))
        del frame[cut:]
    frame[0:4] = struct.pack(">I", len(frame))
    _decode_only_pdu_error(bytes(frame))


@FAST
@given(st.lists(any_pdu, min_size=1, max_size=6), st.data())
def test_framer_same_frames_whatever_the_chunking(pdus: list[P.Pdu], data: st.DataObject) -> None:
    frames = [encode_pdu(p) for p in pdus]
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    framer = Framer()
    out: list[bytes] = []
    start = 0
    for cut in cuts + [len(stream)]:
        out += framer.feed(stream[start:cut])
        start = cut
    assert out == frames
    assert framer.buffered == 0
