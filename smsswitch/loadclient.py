"""A pipelined SMPP tenant load client, for scripts/bench_e2e.py.

Each bind is a transceiver on the project's own sans-IO `Session` (role ESME) and keeps up
to `window` submit_sm outstanding: every read is turned into its events, the deliver_sm in
it are answered, the window is refilled, and everything goes out in ONE write. It asks for
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
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from smsswitch.gctune import tune_for_daemon

from smsswitch.smpp.constants import ESM_CLASS_UDHI, CommandId, CommandStatus, Tag
from smsswitch.smpp.events import (
    BindFailed,
    Bound,
    Closed,
    ProtocolFatal,
    RequestReceived,
    ResponseReceived,
    Unbound,
    UnbindRequested,
)
from smsswitch.smpp.pdu import BindTransceiver, SubmitSm, Unbind, make_response
from smsswitch.smpp.session import Role, Session
from smsswitch.streams import flush_session

_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM = int(CommandId.DELIVER_SM)
_ROK = int(CommandStatus.ESME_ROK)
_RECEIPTED = int(Tag.RECEIPTED_MESSAGE_ID)
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


@attrs.define
class _Paced:
    """A rate-limited bind as the pacer sees it: its allowance and how to use it."""

    fill: Callable[[], None]
    flush: Callable[[], Awaitable[None]]
    pending: list[tuple[int, int, bytes]]
    allowance: float = 0.0  # submits this bind may still send now


async def bind_transceiver(stream: trio.abc.Stream, session: Session, system_id: str, password: str) -> list:
    """Bind; returns the events that came in the same read after the bind_resp. The switch
    sends the receipts it owes the tenant right away, so they often share that read: dropped,
    those deliver_sm went unanswered until the switch's deliver_timeout (about one small
    benchmark run in thirty under load 'lost' 2-5 receipts that way)."""
    session.send_request(BindTransceiver(system_id=system_id, password=password), trio.current_time())
    await stream.send_all(session.data_to_send())
    while True:
        data = await stream.receive_some(READ_SIZE)
        events = session.receive_data(data, trio.current_time())
        for position, event in enumerate(events):
            if isinstance(event, (BindFailed, Closed, ProtocolFatal)):
                raise RuntimeError(f"bind failed: {event!r}")
            if isinstance(event, Bound):
                return events[position + 1 :]


class LoadClient:
    def __init__(self, params: dict[str, Any]) -> None:
        self.p = {**DEFAULTS, **params}
        self.c = Counters()
        self.stop = trio.Event()
        self.submit_over = trio.Event()
        self._rng = random.Random(self.p["seed"])
        mix = self.p["mix"]
        self._kinds = list(mix)
        self._weights = [float(mix[k]) for k in self._kinds]
        self._budget = int(self.p["messages"]) if self.p["messages"] else -1
        self._deadline = math.inf
        self._counter = int(self.p["client_index"]) * 100_000_000
        self._binds_finished = 0
        self._paced: list[_Paced] = []  # rate-limited binds, topped up by the one pacer task

    # ------------------------------------------------------------ messages

    def _next_message(self) -> list[tuple[int, int, bytes]]:
        """(esm_class, data_coding, short_message) for the next message's submit_sm."""
        self._counter += 1
        n = self._counter
        kind = self._kinds[0] if len(self._kinds) == 1 else self._rng.choices(self._kinds, self._weights)[0]
        if kind == "gsm":
            return [(0, 0, _gsm(n))]
        if kind == "ucs2":
            return [(0, 8, _ucs2(n))]
        if kind == "concat3":
            return [(ESM_CLASS_UDHI, 0, part) for part in _concat_parts(n)]
        raise ValueError(f"unknown message kind {kind!r}")

    def _take(self, wanted: int) -> int:
        """How many more submits may start now (budget and duration), at most `wanted`."""
        if self.submit_over.is_set():
            return 0
        if time.monotonic() >= self._deadline:
            self.submit_over.set()
            return 0
        if self._budget < 0:
            return wanted
        n = min(wanted, self._budget)
        self._budget -= n
        if self._budget == 0:
            self.submit_over.set()
        return n

    # ------------------------------------------------------------ one bind

    async def _bind(self, index: int) -> None:
        p = self.p
        c = self.c
        stream = await trio.open_tcp_stream(p["host"], p["port"])  # trio sets TCP_NODELAY
        session = Session(Role.ESME, window=int(p["window"]), response_timeout=3600.0, enquire_link_interval=None)
        early = await bind_transceiver(stream, session, p["system_id"], p["password"])
        pending: list[tuple[int, int, bytes]] = []  # parts of a concatenated message not yet sent
        dest_base = int(p["destination_base"]) + index * 1000
        sent_at = c.sent_at
        resp_latency = c.resp_latency
        receipt_ids = c.receipt_ids
        receipt_at = c.receipt_at
        refused = c.refused
        monotonic = time.monotonic
        send_lock = trio.Lock()
        stop_reading_at = (monotonic() + p["stop_reading_after"]) if (index == 0 and p["stop_reading_after"] >= 0) else math.inf
        # seq -> monotonic send time
        in_flight: dict[int, float] = {}

        def fill() -> None:
            free = session.window_free
            if free <= 0:
                return
            if paced is not None:  # rate-limited
                free = min(free, int(paced.allowance))
            while free > 0:
                if not pending:
                    if self._take(1) == 0:
                        return
                    pending.extend(self._next_message())
                esm, dc, sm = pending.pop(0)
                n = self._counter
                pdu = SubmitSm(
                    source_addr="BENCH", source_addr_ton=5, source_addr_npi=0,
                    destination_addr=str(dest_base + n % 1000), dest_addr_ton=1, dest_addr_npi=1,
                    esm_class=esm, registered_delivery=1, data_coding=dc, short_message=sm,
                )  # fmt: skip
                now = monotonic()
                seq = session.send_request(pdu, now)
                in_flight[seq] = now
                c.sent += 1
                if now < c.first_send:
                    c.first_send = now
                if paced is not None:
                    paced.allowance -= 1
                free -= 1

        async def flush() -> None:
            await flush_session(session, stream, send_lock)

        async def reader(nursery: trio.Nursery) -> None:
            events, now = early, monotonic()
            while True:
                for event in events:
                    kind = type(event)
                    if kind is ResponseReceived:
                        response = event.response  # type: ignore[attr-defined]
                        if response.command_id != _SUBMIT_SM_RESP:
                            continue
                        started = in_flight.pop(event.request.sequence_number, now)  # type: ignore[attr-defined]
                        status = response.command_status
                        if status == _ROK:
                            c.accepted += 1
                            sent_at[response.message_id] = started
                            resp_latency.append(now - started)
                            c.last_resp = now
                        else:
                            refused[status] = refused.get(status, 0) + 1
                    elif kind is RequestReceived:
                        pdu = event.pdu  # type: ignore[attr-defined]
                        if pdu.command_id == _DELIVER_SM:
                            rid = pdu.tlvs.get(_RECEIPTED)
                            if rid is not None:
                                c.receipts += 1
                                receipt_ids.append(rid)
                                receipt_at.append(now)
                                if now < c.first_receipt:
                                    c.first_receipt = now
                                c.last_receipt = now
                            else:
                                c.unexpected += 1
                        session.send_response(pdu, make_response(pdu))
                    elif kind is UnbindRequested:
                        session.send_response(event.pdu, make_response(event.pdu))  # type: ignore[attr-defined]
                    elif kind is Unbound or kind is Closed or kind is ProtocolFatal:
                        await flush()
                        nursery.cancel_scope.cancel()
                        return
                if paced is None:
                    fill()
                await flush()
                if monotonic() >= stop_reading_at:
                    await self.stop.wait()
                    return
                data = await stream.receive_some(READ_SIZE)
                now = monotonic()
                events = session.receive_data(data, now)

        paced = _Paced(fill, flush, pending) if p["rate"] else None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader, nursery)
                if paced is not None:
                    self._paced.append(paced)
                else:
                    fill()
                    await flush()
                await self.stop.wait()
                try:
                    session.send_request(Unbind(), trio.current_time())
                    await flush()
                except Exception:  # noqa: BLE001 - the daemon may be gone already
                    pass
                with trio.move_on_after(2):
                    while session.is_bound:
                        await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
        finally:
            if paced is not None and paced in self._paced:
                self._paced.remove(paced)
            with trio.move_on_after(1):
                await stream.aclose()

    # ------------------------------------------------------------ process

    async def run(self) -> None:
        p = self.p
        if p["duration"]:
            self._deadline = time.monotonic() + float(p["duration"])
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._control)
                nursery.start_soon(self._progress)
                if p["rate"]:
                    nursery.start_soon(self._guard, self._pacer)
                async with trio.open_nursery() as binds:
                    for index in range(int(p["binds"])):
                        binds.start_soon(self._guard, self._bind, index)
                nursery.cancel_scope.cancel()
        finally:
            self._report_progress()

    async def _pacer(self) -> None:
        """Every PACER_TICK, top up each bound bind's allowance, fill its window and send.

        One task for every bind of the process: a timer per bind woke the process once per
        bind per tick (8 binds: 4,000 wake-ups/s), CPU taken from the daemon it measures.
        The binds are flushed in turn, so one whose socket is full would hold up the others'
        sends; a bind never has more than its window of submit_sm unanswered, which fits
        the loopback socket buffers, so only a daemon that stopped reading could do that."""
        rate = float(self.p["rate"]) / int(self.p["binds"])
        burst = max(2.0, rate * 0.02)  # <= 20 ms of burst
        monotonic = time.monotonic
        last = monotonic()
        while True:
            await trio.sleep(PACER_TICK)
            paced = self._paced
            if self.submit_over.is_set() and not any(b.pending for b in paced):
                return
            now = monotonic()
            credit = (now - last) * rate
            last = now
            for bind in paced:
                bind.allowance = min(bind.allowance + credit, burst)
                bind.fill()
            for bind in paced:
                await bind.flush()

    async def _guard(self, fn: Any, *args: Any) -> None:
        try:
            await fn(*args)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, RuntimeError) as exc:
            self.c.errors.append(f"{type(exc).__name__}: {exc}")
            self.stop.set()

    async def _control(self) -> None:
        """A line "stop" (or EOF) on stdin ends the run."""
        stdin = trio.lowlevel.FdStream(os.dup(0))
        buffer = b""
        async with stdin:
            while b"stop" not in buffer:
                data = await stdin.receive_some(1024)
                if not data:
                    break
                buffer += data
        self.stop.set()

    async def _progress(self) -> None:
        while True:
            if time.monotonic() >= self._deadline:
                self.submit_over.set()  # also when every window is full and nobody asks _take
            self._report_progress()
            await trio.sleep(float(self.p["progress_interval"]))

    def _report_progress(self) -> None:
        c = self.c
        line = {"sent": c.sent, "accepted": c.accepted, "receipts": c.receipts,
                "refused": sum(c.refused.values()), "done": self.submit_over.is_set(),
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
    trio.run(client.run)
    with open(args[1], "wb") as f:
        pickle.dump(client.results(), f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
