"""Test doubles for the server: a TenantSink standing in for the core, and a raw SMPP
client speaking through our own codec (exact bytes, no hidden retries)."""

from __future__ import annotations

import itertools
import ssl
from collections.abc import Callable

import trio

from smsswitch.server.api import BindInfo, DeliveryOutlet, OutboundDelivery, QueryAnswer, SubmitAnswer, SubmitRequest
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter, Pdu


class FakeSink:
    """Records what the server hands the core; answers ROK with generated ids unless told
    otherwise (`decide(request) -> status`); `gate` (a trio.Event) makes submit block."""

    def __init__(self) -> None:
        self.submitted: list[tuple[BindInfo, SubmitRequest]] = []
        self.batches: list[int] = []
        self.decide: Callable[[SubmitRequest], int] = lambda request: S.ESME_ROK
        self.gate: trio.Event | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.outlets: list[DeliveryOutlet] = []
        self.down: list[tuple[DeliveryOutlet, list[OutboundDelivery]]] = []
        self.answered: list[tuple[str, int]] = []
        self.answered_event = trio.Event()
        self.outlet_event = trio.Event()
        self.queries: list[tuple[str, str]] = []
        self.cancels: list[tuple[str, str, str]] = []
        self.replaces: list[tuple[str, bytes]] = []
        self._ids = itertools.count(1)

    async def submit(self, bind: BindInfo, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        self.in_flight += len(requests)
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            self.batches.append(len(requests))
            answers = []
            for request in requests:
                self.submitted.append((bind, request))
                status = self.decide(request)
                answers.append(SubmitAnswer(status, f"m{next(self._ids)}" if status == S.ESME_ROK else ""))
            return answers
        finally:
            self.in_flight -= len(requests)

    async def query(self, bind: BindInfo, message_id: str, source_addr: str) -> QueryAnswer:
        self.queries.append((message_id, source_addr))
        if message_id == "unknown":
            return QueryAnswer(S.ESME_RQUERYFAIL)
        return QueryAnswer(S.ESME_ROK, message_id, "", 2, 0)

    async def cancel(self, bind: BindInfo, message_id: str, source_addr: str, destination_addr: str) -> int:
        self.cancels.append((message_id, source_addr, destination_addr))
        return S.ESME_ROK if message_id == "m1" else S.ESME_RCANCELFAIL

    async def replace(self, bind, message_id, source_addr, new_payload, registered_delivery, validity, schedule) -> int:  # type: ignore[no-untyped-def]
        self.replaces.append((message_id, new_payload))
        return S.ESME_ROK if message_id == "m1" else S.ESME_RREPLACEFAIL

    def outlet_up(self, outlet: DeliveryOutlet) -> None:
        self.outlets.append(outlet)
        self.outlet_event.set()

    def outlet_down(self, outlet: DeliveryOutlet, unanswered: list[OutboundDelivery]) -> None:
        self.down.append((outlet, unanswered))

    async def deliveries_answered(self, bind: BindInfo, answers: list[tuple[str, int]]) -> None:
        self.answered.extend(answers)
        self.answered_event.set()
        self.answered_event = trio.Event()


class RawClient:
    """A minimal ESME over our codec: send PDUs (many per write), read PDUs one by one."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._framer = Framer(1 << 20)
        self._frames: list[bytes] = []
        self._seq = itertools.count(1)

    @classmethod
    async def connect(cls, port: int, ssl_context: ssl.SSLContext | None = None) -> RawClient:
        stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", port)
        if ssl_context is not None:
            stream = trio.SSLStream(stream, ssl_context, server_hostname="localhost")
        return cls(stream)

    def number(self, pdu: Pdu) -> Pdu:
        if not pdu.sequence_number:
            pdu.sequence_number = next(self._seq)
        return pdu

    async def send(self, *pdus: Pdu) -> None:
        await self.stream.send_all(b"".join(encode_pdu(self.number(p)) for p in pdus))

    async def send_bytes(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def recv(self) -> Pdu | None:
        """Next PDU, or None when the server closed the connection."""
        while not self._frames:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return None
            if not data:
                return None
            self._frames.extend(self._framer.feed(data))
        return decode_pdu(self._frames.pop(0))

    async def request(self, pdu: Pdu) -> Pdu:
        await self.send(pdu)
        response = await self.recv()
        assert response is not None, "connection closed"
        return response

    async def bind(self, system_id: str, password: str, kind: str = "transceiver") -> Pdu:
        cls = {"transmitter": BindTransmitter, "receiver": BindReceiver, "transceiver": BindTransceiver}[kind]
        return await self.request(cls(system_id=system_id, password=password))

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)
