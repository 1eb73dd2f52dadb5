"""A small SMPP tenant client (ESME) on trio: bind, submit, receive receipts and MO.

Used by `smsswitch send`, the demo and tests. It drives the same sans-IO `Session` as the
server and the connectors; the only I/O here is one reader task and locked writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from smsswitch.smpp.concat import ConcatMethod, split_message
from smsswitch.smpp.constants import (
    ESM_CLASS_TYPE_MASK,
    ESM_CLASS_UDHI,
    CommandStatus,
    Tag,
)
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
from smsswitch.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    Pdu,
    SubmitSm,
    Unbind,
    make_response,
)
from smsswitch.smpp.session import Session, SessionState
from smsswitch.smpp._state_table import Role
from smsswitch.smpp.text import choose_encoding

_BIND_CLASSES = {"transmitter": BindTransmitter, "receiver": BindReceiver, "transceiver": BindTransceiver}


class SmppError(Exception):
    """A request was answered with a non-zero command_status."""

    def __init__(self, status: int, what: str) -> None:
        try:
            name = CommandStatus(status).name
        except ValueError:
            name = f"0x{status:08X}"
        super().__init__(f"{what} refused: {name} (0x{status:08X})")
        self.status = status


@attrs.frozen
class Delivered:
    """A deliver_sm we received (already answered ESME_ROK)."""

    pdu: DeliverSm

    @property
    def is_receipt(self) -> bool:
        return bool(self.pdu.esm_class & ESM_CLASS_TYPE_MASK)

    @property
    def receipted_message_id(self) -> str | None:
        value = self.pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)
        return str(value) if value is not None else None


class TenantClient:
    """One bound session to an SMSC (our switch or any other)."""

    def __init__(self, stream: trio.abc.Stream, session: Session, inbox_size: int = 1000) -> None:
        self._stream = stream
        self._session = session
        self._send_lock = trio.Lock()
        self._waiters: dict[int, tuple[trio.Event, list[Pdu]]] = {}
        self._inbox_send, self._inbox = trio.open_memory_channel[Delivered](inbox_size)
        self.closed = trio.Event()

    async def _flush(self) -> None:
        data = self._session.data_to_send()
        if data:
            async with self._send_lock:
                await self._stream.send_all(data)

    async def _request(self, pdu: Pdu) -> Pdu:
        done = trio.Event()
        slot: list[Pdu] = []
        if self.closed.is_set() or self._session.state is SessionState.CLOSED:
            # The reader saw the close first; a request now is a lost connection, not a bug.
            raise ConnectionError("the connection to the SMSC is closed")
        seq = self._session.send_request(pdu, trio.current_time())
        self._waiters[seq] = (done, slot)
        await self._flush()
        await done.wait()
        if not slot:
            raise ConnectionError("the SMSC closed the connection before answering")
        return slot[0]

    async def _reader(self) -> None:
        try:
            while True:
                try:
                    data = await self._stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                events = self._session.receive_data(data, trio.current_time())
                for event in events:
                    if isinstance(event, (ResponseReceived, Bound, BindFailed, Unbound)):
                        # Bind and unbind responses come as Bound/BindFailed/Unbound; all carry it.
                        waiter = self._waiters.pop(event.response.sequence_number, None)
                        if waiter:
                            waiter[1].append(event.response)
                            waiter[0].set()
                    elif isinstance(event, UnbindRequested):
                        self._session.send_response(event.pdu, make_response(event.pdu))
                    elif isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm):
                        try:
                            self._inbox_send.send_nowait(Delivered(event.pdu))
                        except trio.WouldBlock:
                            # The application is not taking deliveries this fast: refuse for
                            # now (the SMSC keeps it and retries) instead of dropping it.
                            status = CommandStatus.ESME_RMSGQFUL
                        else:
                            status = CommandStatus.ESME_ROK
                        self._session.send_response(event.pdu, make_response(event.pdu, status))
                    elif isinstance(event, RequestReceived):
                        self._session.send_response(
                            event.pdu, make_response(event.pdu, CommandStatus.ESME_RINVCMDID)
                        )
                await self._flush()
                if not data or any(isinstance(e, (Closed, ProtocolFatal)) for e in events):
                    return
        finally:
            self.closed.set()
            self._inbox_send.close()
            for done, _slot in self._waiters.values():
                done.set()

    async def submit(
        self,
        to: str,
        text: str,
        *,
        source: str = "",
        source_ton: int = 5,
        source_npi: int = 0,
        dest_ton: int = 1,
        dest_npi: int = 1,
        registered_delivery: int = 1,
        data_coding: int | None = None,
        method: ConcatMethod = ConcatMethod.UDH8,
        reference: int = 1,
    ) -> list[str]:
        """Submit `text` (split into parts if long); returns our switch's id of each part."""
        data_coding = choose_encoding(text) if data_coding is None else data_coding
        ids = []
        for segment in split_message(text, data_coding, method, reference):
            tlvs: dict[int, Any] = {}
            if segment.sar_msg_ref_num is not None:
                tlvs[Tag.SAR_MSG_REF_NUM] = segment.sar_msg_ref_num
                tlvs[Tag.SAR_TOTAL_SEGMENTS] = segment.sar_total_segments
                tlvs[Tag.SAR_SEGMENT_SEQNUM] = segment.sar_segment_seqnum
            if segment.message_payload is not None:
                tlvs[Tag.MESSAGE_PAYLOAD] = segment.message_payload
            pdu = SubmitSm(
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=source,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=to.lstrip("+") if dest_ton == 1 else to,
                esm_class=ESM_CLASS_UDHI if segment.udhi else 0,
                registered_delivery=registered_delivery,
                data_coding=data_coding,
                short_message=segment.short_message,
                tlvs=tlvs,
            )
            response = await self._request(pdu)
            if response.command_status:
                raise SmppError(response.command_status, "submit_sm")
            ids.append(response.message_id)
        return ids

    async def next_delivery(self, timeout: float) -> Delivered | None:
        """The next deliver_sm (receipt or MO), or None after `timeout` or on close."""
        with trio.move_on_after(timeout):
            try:
                return await self._inbox.receive()
            except trio.EndOfChannel:
                return None
        return None

    async def unbind(self) -> None:
        if self._session.is_bound:
            with trio.move_on_after(5):
                await self._request(Unbind())


@asynccontextmanager
async def connect(
    host: str,
    port: int,
    system_id: str,
    password: str,
    *,
    bind_type: str = "transceiver",
    system_type: str = "",
    timeout: float = 10.0,
) -> AsyncIterator[TenantClient]:
    """Connect, bind and yield a client; unbinds and closes on exit. Raises SmppError on a
    refused bind."""
    stream = await trio.open_tcp_stream(host, port)
    client = TenantClient(stream, Session(Role.ESME, window=100, enquire_link_interval=None))
    refused: int | None = None
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(client._reader)
        bind = _BIND_CLASSES[bind_type](system_id=system_id, password=password, system_type=system_type)
        with trio.fail_after(timeout):
            response = await client._request(bind)
        if response.command_status:
            # Raised outside the nursery so callers see SmppError, not an exception group.
            refused = response.command_status
            nursery.cancel_scope.cancel()
        else:
            try:
                yield client
                await client.unbind()
            finally:
                nursery.cancel_scope.cancel()
    if refused is not None:
        raise SmppError(refused, "bind")
