"""Framer: whole frames out of arbitrary chunks, and a hard stop on impossible lengths."""

from __future__ import annotations

import struct

import pytest

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.errors import FramingError, PduError
from smsswitch.smpp.framer import Framer, peek_header

FRAMES = [
    encode_pdu(P.EnquireLink(1)),
    encode_pdu(P.SubmitSm(2, source_addr="1", destination_addr="2", short_message=b"x" * 160)),
    encode_pdu(P.SubmitSmResp(2, message_id="abc")),
    encode_pdu(P.DeliverSm(3, short_message=b"")),
]
STREAM = b"".join(FRAMES)


def test_one_chunk_many_frames() -> None:
    assert Framer().feed(STREAM) == FRAMES


def test_byte_by_byte() -> None:
    framer = Framer()
    out: list[bytes] = []
    for i in range(len(STREAM)):
        out += framer.feed(STREAM[i : i + 1])
    assert out == FRAMES
    assert framer.buffered == 0


def test_every_two_way_split() -> None:
    for cut in range(len(STREAM) + 1):
        framer = Framer()
        assert framer.feed(STREAM[:cut]) + framer.feed(STREAM[cut:]) == FRAMES


def test_partial_frame_is_held_until_complete() -> None:
    framer = Framer()
    assert framer.feed(FRAMES[1][:20]) == []
    assert framer.buffered == 20
    assert framer.feed(FRAMES[1][20:]) == [FRAMES[1]]


def test_frames_are_bytes_and_decode() -> None:
    frames = Framer().feed(bytearray(STREAM))
    assert all(type(f) is bytes for f in frames)
    assert [type(decode_pdu(f)) for f in frames] == [P.EnquireLink, P.SubmitSm, P.SubmitSmResp, P.DeliverSm]


@pytest.mark.parametrize("length", [0, 1, 15])
def test_command_length_below_16_is_fatal(length: int) -> None:
    framer = Framer()
    bad = struct.pack(">IIII", length, 4, 0, 55)
    with pytest.raises(FramingError) as info:
        framer.feed(FRAMES[0] + bad)
    err = info.value
    assert err.status == CommandStatus.ESME_RINVCMDLEN
    assert err.generic_nack is True
    assert err.sequence_number == 55 and err.command_id == 4
    assert err.frames == [FRAMES[0]]
    with pytest.raises(FramingError) as again:
        framer.feed(FRAMES[0])
    assert again.value.frames == []


def test_command_length_above_max_is_fatal_without_allocating() -> None:
    framer = Framer(max_command_length=1024)
    with pytest.raises(FramingError) as info:
        framer.feed(struct.pack(">I", 1025))
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.sequence_number == 0


def test_large_announced_length_only_buffers_what_was_fed() -> None:
    framer = Framer(max_command_length=1 << 20)
    framer.feed(struct.pack(">IIII", 1 << 20, 4, 0, 1) + b"x" * 10)
    assert framer.buffered == 26


def test_framing_error_is_a_pdu_error() -> None:
    assert issubclass(FramingError, PduError)


def test_peek_header() -> None:
    assert peek_header(FRAMES[2]) == (len(FRAMES[2]), 0x80000004, 0, 2)
    with pytest.raises(PduError):
        peek_header(b"\0" * 15)
