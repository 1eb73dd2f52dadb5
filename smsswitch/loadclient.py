"""A pipelined SMPP tenant load client, for scripts/bench_e2e.py.

Each bind is a transceiver that keeps up to `window` submit_sm outstanding: every read is
split into PDUs, the deliver_sm in it are answered, the window is refilled, and everything
goes out in ONE write. It speaks raw octets (smsswitch/loadwire.py), not the project's
`Session`: the client shares the cores with the daemon, and the full codec cost it 12-17 %
of a run's CPU. It asks for
a receipt on every message and records, by the switch's message id, when each was sent,
accepted and receipted, so the parent can count end to end (lost, duplicates, latencies).

Run as its own process (`python -m smsswitch.loadclient PARAMS.json OUT.pickle`) so it does
not share the daemon's GIL. It talks to the parent over stdin/stdout: every
`progress_interval` it prints one JSON line {"accepted", "receipts", "sent", "done"}
("done": its submit phase is over), and it stops when a line "stop" arrives on stdin (or
stdin closes). It then unbinds and writes its results to OUT.pickle.

The message mix is GSM 03.38 text of 160 characters (data_coding 0), UCS2 of 70 characters
(data_coding 8), and 3-part concatenated GSM (UDH 8-bit reference, esm_class UDHI); every
submit_sm counts as one message and expects one receipt.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import resource
import selectors
import socket
import sys
import time
from array import array
from typing import Any

from smsswitch.gctune import tune_for_daemon

from smsswitch import loadwire as wire
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import ESM_CLASS_UDHI, SEQUENCE_NUMBER_MAX, CommandId, CommandStatus
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import BindTransceiver, Unbind

_BIND_TRX_RESP = int(CommandId.BIND_TRANSCEIVER_RESP)
_ROK = int(CommandStatus.ESME_ROK)
READ_SIZE = 256 * 1024
PACER_TICK = 0.002  # seconds between top-ups of the rate-limited binds

DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 2775,
    "system_id": "demo",
    "password": "demopass",
    "binds": 4,
    "window": 100,
    "messages": 10_000,  # for this process; 0 = until `duration`
    "duration": 0.0,  # seconds of submitting; 0 = until `messages`
    "rate": 0.0,  # submits/s for this process; 0 = as fast as the windows allow
    "mix": {"gsm": 1.0},  # gsm / ucs2 / concat3 weights (concat3: one 3-part message)
    "seed": 1,
    "progress_interval": 0.25,
    "stop_reading_after": -1.0,  # >= 0: bind 0 stops reading this many seconds in (a stuck tenant)
    "destination_base": 263771000000,
    "client_index": 0,
}

_GSM_TEXT = ("The quick brown fox jumps over the lazy dog 0123456789 " * 4)[:150]
_UCS2_TEXT = ("Привет мир, καλημέρα κόσμε! " * 4)[:62]


def _gsm(n: int) -> bytes:
    return (f"{n:09d} " + _GSM_TEXT)[:160].encode("ascii")


def _ucs2(n: int) -> bytes:
    return (f"{n:07d} " + _UCS2_TEXT)[:70].encode("utf-16-be")


def _concat_parts(n: int) -> list[bytes]:
    ref = n & 0xFF
    body = (f"{n:09d} " + _GSM_TEXT * 4)[: 3 * 153].encode("ascii")
    return [bytes([5, 0, 3, ref, 3, i + 1]) + body[i * 153 : (i + 1) * 153] for i in range(3)]


class Counters:
    """What one client process saw, shared by its binds."""

    def __init__(self) -> None:
        self.sent = 0
        self.accepted = 0
        self.refused: dict[int, int] = {}
        self.receipts = 0
        self.unexpected = 0
        # message id -> monotonic time its submit_sm was sent
        self.sent_at: dict[str, float] = {}
        self.resp_latency = array("d")  # seconds, accepted submits
        self.receipt_ids: list[str] = []
        self.receipt_at = array("d")
        self.first_send = math.inf
        self.last_resp = 0.0
        self.first_receipt = math.inf
        self.last_receipt = 0.0
        self.errors: list[str] = []


def bind_transceiver(sock: socket.socket, framer: Framer, system_id: str, password: str) -> list[bytes]:
    """Bind over a blocking socket; returns the frames that came in the same read after the
    bind_resp. The switch sends the receipts it owes the tenant right away, so they often
    share that read: dropped, those deliver_sm went unanswered until the switch's
    deliver_timeout (about one small benchmark run in thirty under load 'lost' 2-5 receipts
    that way)."""
    sock.sendall(encode_pdu(BindTransceiver(system_id=system_id, password=password, sequence_number=1)))
    while True:
        data = sock.recv(READ_SIZE)
        if not data:
            raise RuntimeError("bind failed: the switch closed the connection")
        frames = framer.feed(data)
        for position, frame in enumerate(frames):
            _, command_id, status, _ = wire.HEADER.unpack_from(frame)
            if command_id == _BIND_TRX_RESP or command_id == wire.GENERIC_NACK:
                if status != _ROK:
                    raise RuntimeError(f"bind failed: command_status 0x{status:08x}")
                return frames[position + 1 :]
            raise RuntimeError(f"bind failed: command_id 0x{command_id:08x} before bind_resp")


class _Bind:
    """One transceiver bind: its socket, what it has in flight and what it sends next."""

    def __init__(self, client: LoadClient, index: int, sock: socket.socket, framer: Framer) -> None:
        p = client.p
        self.client = client
        self.index = index
        self.sock = sock
        self.framer = framer
        self.window = int(p["window"])
        self.dest_base = int(p["destination_base"]) + index * 1000
        self.paced = bool(p["rate"])
        self.allowance = 0.0  # submits this (rate-limited) bind may still send now
        self.pending: list[tuple[int, int, bytes]] = []  # parts of a concatenated message not yet sent
        self.in_flight: dict[int, float] = {}  # sequence number -> monotonic send time
        self.out: list[bytes] = []  # octets for the next send
        self.backlog = b""  # what the socket did not take: sent when it is writable
        self.sequence = 1  # the bind_transceiver's
        self.reading = True
        self.unbound = False
        stuck = p["stop_reading_after"]
        self.stop_reading_at = (time.monotonic() + stuck) if (index == 0 and stuck >= 0) else math.inf

    def next_sequence(self) -> int:
        self.sequence = self.sequence + 1 if self.sequence < SEQUENCE_NUMBER_MAX else 1
        return self.sequence

    def fill(self, builder: wire.SubmitSmBuilder) -> None:
        """Top the window up with submit_sm (within the allowance when rate-limited)."""
        if self.unbound:
            return
        free = self.window - len(self.in_flight)
        if self.paced:
            free = min(free, int(self.allowance))
        if free <= 0:
            return
        client = self.client
        c = client.c
        pending = self.pending
        in_flight = self.in_flight
        out = self.out
        sent = 0
        now = time.monotonic()
        while sent < free:
            if not pending:
                if client.take(1) == 0:
                    break
                pending.extend(client.next_message())
            esm, dc, sm = pending.pop(0)
            seq = self.next_sequence()
            out.append(builder.build(seq, b"%d" % (self.dest_base + client.counter % 1000), esm, dc, sm))
            in_flight[seq] = now
            sent += 1
        if sent:
            c.sent += sent
            if now < c.first_send:
                c.first_send = now
            if self.paced:
                self.allowance -= sent

    def on_frames(self, frames: list[bytes], now: float) -> None:
        """Count what came in and queue the answers."""
        c = self.client.c
        in_flight = self.in_flight
        out = self.out
        unpack_header = wire.HEADER.unpack_from
        for frame in frames:
            _, command_id, status, seq = unpack_header(frame)
            if command_id == wire.SUBMIT_SM_RESP or command_id == wire.GENERIC_NACK:
                started = in_flight.pop(seq, None)
                if started is None:
                    continue  # a generic_nack of something else (sequence 0: unreadable)
                if status == _ROK and command_id == wire.SUBMIT_SM_RESP:
                    c.accepted += 1
                    c.sent_at[wire.message_id(frame)] = started
                    c.resp_latency.append(now - started)
                    c.last_resp = now
                else:
                    c.refused[status] = c.refused.get(status, 0) + 1
            elif command_id == wire.DELIVER_SM:
                rid = wire.receipted_message_id(frame)
                if rid is not None:
                    c.receipts += 1
                    c.receipt_ids.append(rid)
                    c.receipt_at.append(now)
                    if now < c.first_receipt:
                        c.first_receipt = now
                    c.last_receipt = now
                else:
                    c.unexpected += 1
                out.append(wire.deliver_sm_resp(seq))
            elif command_id == wire.ENQUIRE_LINK:
                out.append(wire.response(wire.ENQUIRE_LINK_RESP, seq))
            elif command_id == wire.UNBIND:
                out.append(wire.response(wire.UNBIND_RESP, seq))
                self.unbound = True
            elif command_id == wire.UNBIND_RESP:
                self.unbound = True
            elif not command_id & wire.RESPONSE_BIT:
                out.append(wire.unsupported(seq))

    def flush(self) -> bool:
        """Send what is queued; True if the socket took all of it (else the rest waits in
        `backlog` until the socket is writable)."""
        if self.out:
            data = self.backlog + b"".join(self.out) if self.backlog else b"".join(self.out)
            self.out.clear()
        elif self.backlog:
            data = self.backlog
        else:
            return True
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        self.backlog = data[sent:]
        return not self.backlog


class LoadClient:
    """N binds on one epoll loop (selectors), no async framework: per wake-up trio's
    scheduler cost the client more than the SMPP work itself at moderate rates (at 3,000
    submits/s the trio client used 65 µs per message, the daemon's cores)."""

    def __init__(self, params: dict[str, Any], control_fd: int = 0) -> None:
        self.p = {**DEFAULTS, **params}
        self._control_fd = control_fd  # "stop" (or EOF) here ends the run
        self.c = Counters()
        self.stopping = False
        self.submit_over = False
        self._rng = random.Random(self.p["seed"])
        mix = self.p["mix"]
        self._kinds = list(mix)
        self._weights = [float(mix[k]) for k in self._kinds]
        self._budget = int(self.p["messages"]) if self.p["messages"] else -1
        self._deadline = math.inf
        self.counter = int(self.p["client_index"]) * 100_000_000
        self._builder = wire.SubmitSmBuilder("BENCH")
        self._binds: list[_Bind] = []
        self._selector = selectors.DefaultSelector()
        self._control = b""

    # ------------------------------------------------------------ messages

    def next_message(self) -> list[tuple[int, int, bytes]]:
        """(esm_class, data_coding, short_message) for the next message's submit_sm."""
        self.counter += 1
        n = self.counter
        kind = self._kinds[0] if len(self._kinds) == 1 else self._rng.choices(self._kinds, self._weights)[0]
        if kind == "gsm":
            return [(0, 0, _gsm(n))]
        if kind == "ucs2":
            return [(0, 8, _ucs2(n))]
        if kind == "concat3":
            return [(ESM_CLASS_UDHI, 0, part) for part in _concat_parts(n)]
        raise ValueError(f"unknown message kind {kind!r}")

    def take(self, wanted: int) -> int:
        """How many more submits may start now (budget and duration), at most `wanted`."""
        if self.submit_over:
            return 0
        if time.monotonic() >= self._deadline:
            self.submit_over = True
            return 0
        if self._budget < 0:
            return wanted
        n = min(wanted, self._budget)
        self._budget -= n
        if self._budget == 0:
            self.submit_over = True
        return n

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        p = self.p
        try:
            self._connect()
            if p["duration"]:
                self._deadline = time.monotonic() + float(p["duration"])
            self._loop()
            self._unbind()
        except (OSError, RuntimeError, ValueError) as exc:
            self.c.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for bind in self._binds:
                bind.sock.close()
            self._report_progress()

    def _connect(self) -> None:
        p = self.p
        selector = self._selector
        selector.register(self._control_fd, selectors.EVENT_READ, None)
        for index in range(int(p["binds"])):
            sock = socket.create_connection((p["host"], p["port"]), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            framer = Framer()
            early = bind_transceiver(sock, framer, p["system_id"], p["password"])
            sock.setblocking(False)
            bind = _Bind(self, index, sock, framer)
            self._binds.append(bind)
            selector.register(sock, selectors.EVENT_READ, bind)
            bind.on_frames(early, time.monotonic())

    def _loop(self) -> None:
        """Until "stop": read, answer, refill, send; top the paced binds up every tick."""
        p = self.p
        binds = self._binds
        builder = self._builder
        select = self._selector.select
        monotonic = time.monotonic
        paced = bool(p["rate"])
        rate = float(p["rate"]) / max(1, len(binds))
        burst = max(2.0, rate * 0.02)  # <= 20 ms of burst
        interval = float(p["progress_interval"])
        now = monotonic()
        next_tick = now + PACER_TICK if paced else math.inf
        next_progress = now
        last_tick = now
        if not paced:
            for bind in binds:
                bind.fill(builder)
                self._send(bind)
        while not self.stopping:
            now = monotonic()
            if now >= next_progress:
                if now >= self._deadline:
                    self.submit_over = True  # also when every window is full and nobody asks take()
                self._report_progress()
                next_progress = now + interval
            if now >= next_tick:
                credit = (now - last_tick) * rate
                last_tick = now
                for bind in binds:
                    bind.allowance = min(bind.allowance + credit, burst)
                    bind.fill(builder)
                    self._send(bind)
                next_tick = now + PACER_TICK
            for key, mask in select(max(0.0, min(next_tick, next_progress) - now)):
                bind = key.data
                if bind is None:
                    self._read_control()
                    continue
                if mask & selectors.EVENT_WRITE:
                    self._send(bind)
                if mask & selectors.EVENT_READ:
                    self._read(bind, paced)

    def _read(self, bind: _Bind, paced: bool) -> None:
        try:
            data = bind.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            self.c.errors.append(f"bind {bind.index}: the switch closed the connection")
            self._retire(bind)
            return
        bind.on_frames(bind.framer.feed(data), time.monotonic())
        if bind.unbound:  # the switch unbound it (its unbind_resp is queued)
            self._send(bind)
            self._retire(bind)
            return
        if not paced:
            bind.fill(self._builder)
        self._send(bind)
        if time.monotonic() >= bind.stop_reading_at:  # a tenant that stops reading
            bind.reading = False
            self._watch(bind)

    def _send(self, bind: _Bind) -> None:
        had_backlog = bool(bind.backlog)
        if bind.flush() == had_backlog:  # became (un)blocked: watch writability accordingly
            self._watch(bind)

    def _watch(self, bind: _Bind) -> None:
        events = (selectors.EVENT_READ if bind.reading else 0) | (selectors.EVENT_WRITE if bind.backlog else 0)
        selector = self._selector
        if events:
            try:
                selector.modify(bind.sock, events, bind)
            except KeyError:
                selector.register(bind.sock, events, bind)
        else:
            try:
                selector.unregister(bind.sock)
            except KeyError:
                pass

    def _read_control(self) -> None:
        data = os.read(self._control_fd, 1024)
        self._control += data
        if not data or b"stop" in self._control:
            self.stopping = True
            self._selector.unregister(self._control_fd)

    def _retire(self, bind: _Bind) -> None:
        """A bind the switch ended: no more reads or submits on it."""
        bind.unbound = True
        bind.reading = False
        self._watch(bind)

    def _unbind(self) -> None:
        """Unbind every bind and wait (at most 2 s) for the unbind_resp. A bind that stopped
        reading (the stuck tenant) is sent its unbind but not read again: what the switch
        queued for it was never taken, as with a real stuck application."""
        waiting = []
        for bind in self._binds:
            if not bind.unbound:
                bind.out.append(encode_pdu(Unbind(sequence_number=bind.next_sequence())))
                self._send(bind)
                if bind.reading:
                    waiting.append(bind)
        deadline = time.monotonic() + 2.0
        while not all(b.unbound for b in waiting) and time.monotonic() < deadline:
            for key, mask in self._selector.select(max(0.0, deadline - time.monotonic())):
                bind = key.data
                if mask & selectors.EVENT_WRITE:
                    self._send(bind)
                if mask & selectors.EVENT_READ:
                    try:
                        data = bind.sock.recv(READ_SIZE)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not data:
                        self._retire(bind)
                        continue
                    bind.on_frames(bind.framer.feed(data), time.monotonic())
                    self._send(bind)

    def _report_progress(self) -> None:
        c = self.c
        line = {"sent": c.sent, "accepted": c.accepted, "receipts": c.receipts,
                "refused": sum(c.refused.values()), "done": self.submit_over,
                "errors": len(c.errors)}  # fmt: skip
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def results(self) -> dict[str, Any]:
        c = self.c
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "sent": c.sent, "accepted": c.accepted, "refused": c.refused, "receipts": c.receipts,
            "unexpected": c.unexpected, "sent_at": c.sent_at, "resp_latency": c.resp_latency,
            "receipt_ids": c.receipt_ids, "receipt_at": c.receipt_at, "first_send": c.first_send,
            "last_resp": c.last_resp, "first_receipt": c.first_receipt, "last_receipt": c.last_receipt,
            "errors": c.errors, "cpu_s": usage.ru_utime + usage.ru_stime,
        }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m smsswitch.loadclient PARAMS.json OUT.pickle", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        params = json.load(f)
    client = LoadClient(params)
    tune_for_daemon()  # the load generator's own CPU shares the daemon's cores: see gctune
    client.run()
    with open(args[1], "wb") as f:
        pickle.dump(client.results(), f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
