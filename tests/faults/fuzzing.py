"""Hostile input for a running SMPP server: cases, the client that plays one, and the oracle.

A case is a byte stream one connection sends: valid PDUs of every kind (binds with good and bad
credentials, submits, multi, data_sm, query/cancel/replace, responses, outbind...), mutated
(bit flips, truncation, forged command_length/command_id/sequence_number, spliced bodies, junk
TLVs) or plain random bytes, optionally after a good bind so the bound state gets fuzzed too.
The same mutation engine serves hypothesis (tests/faults/test_hostile.py, shrinking) and the
seeded random generator of scripts/fuzz_server.py (volume).

The oracle (`check`) holds the server to SMPP 3.4 and to our promises, independently of our
codec (a struct header walk): everything the server sends is whole, well-formed PDUs of the
right kind; every response answers a sequence number we sent; a command_length below 16 or
above the maximum gets generic_nack ESME_RINVCMDLEN and the server closes by itself; a
well-framed unknown command_id gets generic_nack ESME_RINVCMDID with its sequence number;
the connection ends promptly once we stop sending.
"""

from __future__ import annotations

import errno
import itertools
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import trio

from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import CommandId, Tag
from smsswitch.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    QuerySm,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)

_HEADER = struct.Struct(">IIII")
RESPONSE_BIT = 0x80000000
KNOWN = frozenset(int(c) for c in CommandId)
GENERIC_NACK = int(CommandId.GENERIC_NACK)
RINVCMDLEN, RINVCMDID = 0x02, 0x03
#: What an SMSC may send on its own (requests) besides responses.
SERVER_REQUESTS = frozenset({int(CommandId.ENQUIRE_LINK), int(CommandId.UNBIND), int(CommandId.DELIVER_SM),
                             int(CommandId.DATA_SM), int(CommandId.ALERT_NOTIFICATION)})  # fmt: skip
#: Frames after these may legitimately go unanswered (the session ends or is being bound).
_ENDS_WALK = frozenset({int(CommandId.UNBIND)})

FUZZ_SYSTEM_ID = "fuzz"
FUZZ_PASSWORD = "fuzzpw"


def templates() -> list[bytes]:
    """One valid encoding of each kind of PDU a tenant might send (and some it must not)."""
    sm = dict(source_addr_ton=5, source_addr="FUZZ", dest_addr_ton=1, dest_addr_npi=1,
              destination_addr="263771234567", registered_delivery=1)  # fmt: skip
    udh = b"\x05\x00\x03\x2a\x02\x01" + b"part one"
    pdus: list[Any] = [
        BindTransceiver(system_id=FUZZ_SYSTEM_ID, password=FUZZ_PASSWORD),
        BindTransmitter(system_id=FUZZ_SYSTEM_ID, password=FUZZ_PASSWORD),
        BindReceiver(system_id=FUZZ_SYSTEM_ID, password=FUZZ_PASSWORD),
        BindTransceiver(system_id=FUZZ_SYSTEM_ID, password="wrong"),
        BindTransmitter(system_id="nobody", password="x", system_type="t" * 12),
        SubmitSm(short_message=b"hello fuzz", **sm),
        SubmitSm(short_message=udh, esm_class=0x40, **sm),
        SubmitSm(data_coding=8, short_message="h\u00e9llo".encode("utf-16-be"), **sm),
        SubmitSm(tlvs={Tag.MESSAGE_PAYLOAD: b"x" * 300}, **sm),
        SubmitSm(tlvs={Tag.SAR_MSG_REF_NUM: 7, Tag.SAR_TOTAL_SEGMENTS: 2, Tag.SAR_SEGMENT_SEQNUM: 1},
                 short_message=b"sar part", **sm),  # fmt: skip
        SubmitSm(schedule_delivery_time="000000000100000R", validity_period="991231235959000+",
                 short_message=b"timed", **sm),  # fmt: skip
        SubmitMulti(source_addr="FUZZ", dest_address=[SmeAddress(1, 1, "263771234567"), SmeAddress(1, 1, "447700900123")],
                    short_message=b"multi", registered_delivery=1),  # fmt: skip
        DataSm(source_addr="FUZZ", dest_addr_ton=1, dest_addr_npi=1, destination_addr="263771234567",
               tlvs={Tag.MESSAGE_PAYLOAD: b"data sm"}),  # fmt: skip
        QuerySm(message_id="01a2000000000000", source_addr="FUZZ"),
        CancelSm(message_id="01a2000000000000", source_addr="FUZZ", destination_addr="263771234567"),
        ReplaceSm(message_id="01a2000000000000", source_addr="FUZZ", short_message=b"replaced"),
        EnquireLink(),
        EnquireLinkResp(),
        GenericNack(command_status=3),
        DeliverSmResp(),
        SubmitSmResp(message_id="x"),
        DeliverSm(source_addr="1", destination_addr="2", short_message=b"mo from a tenant?"),
        Outbind(system_id="x", password="y"),
        AlertNotification(source_addr="1", esme_addr="2"),
        Unbind(),
    ]
    out = []
    for seq, pdu in enumerate(pdus, start=1):
        pdu.sequence_number = seq
        out.append(encode_pdu(pdu))
    return out


TEMPLATES = templates()
GOOD_BIND = TEMPLATES[0]
_UNBIND = TEMPLATES[-1]
MUTATIONS = ("flip", "set", "truncate", "extend", "length", "command_id", "sequence", "splice", "tlv", "status")
LENGTH_VALUES = (0, 1, 15, 16, 17, 0x10000, 0x10001, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(pdu: bytes, op: str, a: int, b: int) -> bytes:
    """One mutation of a frame; `a` and `b` are arbitrary non-negative ints (positions, values)."""
    data = bytearray(pdu)
    n = len(data)
    if op == "flip" and n:
        data[a % n] ^= 1 << (b % 8)
    elif op == "set" and n:
        data[a % n] = b % 256
    elif op == "truncate":
        del data[a % (n + 1):]
    elif op == "extend":
        data += bytes((a * 31 + i * b) % 256 for i in range(b % 64))
    elif op == "length" and n >= 4:
        value = LENGTH_VALUES[a % len(LENGTH_VALUES)] if b % 2 else (n + (a % 9) - 4) % 0x100000000
        data[0:4] = struct.pack(">I", value)
    elif op == "command_id" and n >= 8:
        known = sorted(KNOWN)
        value = known[a % len(known)] if b % 3 else (a * 2654435761 + b) % 0x100000000
        data[4:8] = struct.pack(">I", value)
    elif op == "sequence" and n >= 16:
        data[12:16] = struct.pack(">I", (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, a)[b % 6])
    elif op == "status" and n >= 12:
        data[8:12] = struct.pack(">I", a % 0x100)
    elif op == "splice" and n > 16:
        other = TEMPLATES[a % len(TEMPLATES)]
        cut = 16 + (b % (n - 15))
        data = data[:cut] + other[16 + (a % max(1, len(other) - 16)):]
    elif op == "tlv":
        tag, length = (a % 0x10000), (b % 300)
        data += struct.pack(">HH", tag, length) + bytes(min(length, b % 50))
    return bytes(data)


def fix_length(frame: bytes) -> bytes:
    """Make command_length agree with the frame (so the body, not the framing, is fuzzed)."""
    if len(frame) < 4:
        return frame
    return struct.pack(">I", len(frame)) + frame[4:]


@attrs.define
class Frame:
    template: int
    mutations: list[tuple[str, int, int]] = attrs.field(factory=list)
    keep_length: bool = True  # rewrite command_length after mutating (unless it was the point)

    def build(self) -> bytes:
        data = TEMPLATES[self.template % len(TEMPLATES)]
        for op, a, b in self.mutations:
            data = mutate(data, op, a, b)
        if self.keep_length and not any(op == "length" for op, _, _ in self.mutations):
            data = fix_length(data)
        return data


@attrs.define
class Case:
    """One connection's worth of hostile input."""

    bound: bool  # start with a good bind (the bound state gets fuzzed)
    frames: list[Frame] = attrs.field(factory=list)
    junk: bytes = b""  # raw bytes after the frames
    chunks: int = 1  # how many writes the stream is split into

    def payload(self) -> bytes:
        return (GOOD_BIND if self.bound else b"") + b"".join(f.build() for f in self.frames) + self.junk


def random_case(rng: random.Random) -> Case:
    """The script's generator: the same shapes as the hypothesis strategy, drawn fast."""
    kind = rng.random()
    if kind < 0.1:
        return Case(bound=rng.random() < 0.5, junk=rng.randbytes(rng.randint(1, 200)))
    frames = []
    for _ in range(rng.randint(1, 6)):
        mutations = [(rng.choice(MUTATIONS), rng.getrandbits(32), rng.getrandbits(16))
                     for _ in range(rng.choice((0, 1, 1, 2, 3)))]  # fmt: skip
        frames.append(Frame(rng.randrange(len(TEMPLATES)), mutations, keep_length=rng.random() < 0.8))
    junk = rng.randbytes(rng.randint(0, 40)) if rng.random() < 0.2 else b""
    return Case(bound=rng.random() < 0.5, frames=frames, junk=junk, chunks=rng.choice((1, 1, 1, 2, 5)))


# ---------------------------------------------------------------- playing a case


@attrs.define
class Outcome:
    received: bytes
    closed_by_server: bool  # EOF (or reset) before we stopped sending
    reset: bool
    elapsed: float
    timed_out: bool


def play(case: Case, port: int, source: str = "127.0.0.1", timeout: float = 5.0,
         host: str = "127.0.0.1", pause: float = 0.0) -> Outcome:
    """Send the case on a fresh connection from `source`; stop sending (half-close) unless the
    stream holds a framing error the server must act on by itself; read until EOF."""
    payload = case.payload()
    must_close = first_framing_error(payload) is not None
    started = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    received = bytearray()
    reset = timed_out = closed_early = False
    try:
        sock.bind((source, 0))
        sock.connect((host, port))
        try:
            if case.bound:
                # Wait for the bind_resp, so what follows reaches a bound session.
                sock.sendall(GOOD_BIND)
                while not frames_of(bytes(received))[0]:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise BrokenPipeError("closed during bind")
                    received += chunk
                payload = payload[len(GOOD_BIND):]
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            payload = b""
        size = max(1, -(-len(payload) // max(1, case.chunks)))
        try:
            for i in range(0, len(payload), size):
                sock.sendall(payload[i : i + size])
                if pause:
                    time.sleep(pause)
            if not must_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            closed_early = True
        except OSError as exc:  # ENOTCONN from shutdown: the server's reset got here first
            if exc.errno != errno.ENOTCONN:
                raise
            closed_early = True
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                reset = True
                break
            except TimeoutError:
                timed_out = True
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return Outcome(bytes(received), closed_early or must_close, reset, time.monotonic() - started, timed_out)


# ---------------------------------------------------------------- the oracle


def frames_of(data: bytes) -> tuple[list[tuple[int, int, int, int]], bytes]:
    """Headers of the whole frames in `data` (length, id, status, seq) and what is left over."""
    out = []
    pos = 0
    while len(data) - pos >= 16:
        length, command_id, status, seq = _HEADER.unpack_from(data, pos)
        if length < 16 or len(data) - pos < length:
            break
        out.append((length, command_id, status, seq))
        pos += length
    return out, data[pos:]


def first_framing_error(data: bytes, max_length: int = 65536) -> int | None:
    """Index (in frames) of the first frame whose command_length cannot be framed, if any;
    None also when the stream ends in a partial frame the server must simply wait for."""
    pos = index = 0
    while len(data) - pos >= 4:
        (length,) = struct.unpack_from(">I", data, pos)
        if length < 16 or length > max_length:
            return index
        if len(data) - pos < length:
            return None
        if len(data) - pos >= 8 and struct.unpack_from(">I", data, pos + 4)[0] in _ENDS_WALK:
            return None  # the session may end here: what follows is not ours to judge
        pos += length
        index += 1
    return None


def check(case: Case, outcome: Outcome, max_length: int = 65536) -> list[str]:
    """Every way the server's answer breaks SMPP 3.4 or our promises (empty: fine)."""
    problems: list[str] = []
    payload = case.payload()
    theirs, leftover = frames_of(outcome.received)
    if leftover and not outcome.reset:
        problems.append(f"server sent {len(leftover)} bytes that are no whole PDU: {leftover[:32].hex()}")
    if outcome.timed_out:
        problems.append(f"connection still open {outcome.elapsed:.1f}s after we stopped sending")
    ours, rest = frames_of(payload)
    our_seqs = {seq for _, _, _, seq in ours} | {0}
    if len(rest) >= 16:  # the header that could not be framed names a sequence number too
        our_seqs.add(_HEADER.unpack_from(rest)[3])
    for length, command_id, status, seq in theirs:
        if length > max_length:
            problems.append(f"server PDU of {length} octets")
        if command_id & RESPONSE_BIT:
            if command_id not in KNOWN:
                problems.append(f"unknown response id 0x{command_id:08X}")
            elif seq not in our_seqs:
                problems.append(f"response 0x{command_id:08X} to sequence {seq} we never sent")
        elif command_id not in SERVER_REQUESTS:
            problems.append(f"server sent request 0x{command_id:08X}")
    nacks = [(status, seq) for _, command_id, status, seq in theirs if command_id == GENERIC_NACK]
    bad_frame = first_framing_error(payload, max_length)
    if bad_frame is not None and not outcome.reset:
        if not any(status == RINVCMDLEN for status, _ in nacks):
            problems.append("command_length out of range answered without generic_nack ESME_RINVCMDLEN")
        if outcome.timed_out:
            problems.append("server did not close after a framing error")
    # Unknown command ids in well-framed requests before any framing error or unbind.
    for length, command_id, _, seq in ours[: bad_frame if bad_frame is not None else len(ours)]:
        if command_id in _ENDS_WALK:
            break
        if not command_id & RESPONSE_BIT and command_id not in KNOWN and not outcome.reset:
            if (RINVCMDID, seq) not in nacks:
                problems.append(f"unknown command_id 0x{command_id:08X} (seq {seq}) not answered generic_nack ESME_RINVCMDID")
    return problems


def sources(count: int = 250) -> Iterator[str]:
    """Loopback source addresses 127.0.0.2..: spreads cases over per-IP limits."""
    while True:
        for i in range(2, 2 + count):
            yield f"127.0.0.{i}"


def fuzz_tenant_config(n: int = 16) -> dict[str, Any]:
    """A tenant for the fuzz cases (a cheap scrypt cost: binds are what gets fuzzed)."""
    from smsswitch.passwords import hash_password

    return {"system_id": FUZZ_SYSTEM_ID, "password_hash": hash_password(FUZZ_PASSWORD, n=n),
            "bind_types": ["transmitter", "receiver", "transceiver"], "max_binds": 1000, "window": 10,
            "deliver_timeout": 2}  # fmt: skip


def describe(case: Case, outcome: Outcome | None = None) -> str:
    text = f"bound={case.bound} frames={[(f.template, f.mutations, f.keep_length) for f in case.frames]} junk={case.junk.hex()} chunks={case.chunks}"
    if outcome is not None:
        theirs = [(f"0x{c:08X}", f"0x{st:X}", q) for _, c, st, q in frames_of(outcome.received)[0]]
        text += f"\nserver sent {theirs[:12]} reset={outcome.reset} closed_by_server={outcome.closed_by_server} in {outcome.elapsed:.2f}s"
    return text


def summarize(problems: Sequence[str]) -> str:
    return "; ".join(problems[:5])


class GoodTenant:
    """A well-behaved tenant on 127.0.0.1 submitting every 20 ms in a thread of its own, for
    as long as the hostile traffic lasts; every answer must be ESME_ROK."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.thread = threading.Thread(target=lambda: trio.run(self._run), daemon=True)

    async def _run(self) -> None:
        from smsswitch.client import connect

        try:
            async with connect("127.0.0.1", self.port, "demo", "demopass") as client:
                for i in itertools.count():
                    if self.stop.is_set():
                        return
                    with trio.fail_after(5):
                        await client.submit("+263771234567", f"good {i}", source="DEMO")
                    self.ok += 1
                    await trio.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failures.append(repr(exc))

    def __enter__(self) -> GoodTenant:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


