"""GET /v1/events: a tenant's receipts and MO as a server-sent-events stream.

An open stream is a delivery outlet of the core, exactly like a bound SMPP receiver: the
core offers it what the tenant is owed (the outbox's SMPP-channel entries), the stream
writes each as one SSE event in the webhook schema (`events.py`) and then reports it
answered, which removes it from the outbox. Memory is bounded per connection: `offer`
refuses beyond `capacity` (the rest waits on disk), and a reader too slow to take a write
within `write_timeout` is dropped; whatever it had not been sent goes back to the outbox
(`outlet_down`) and is offered again — to the next stream or SMPP bind of the tenant.

    id: <eventId>
    event: receipt | mo
    data: {"schemaVersion":1,...}

A comment line is sent every `keepalive` seconds so proxies keep the stream open.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import structlog
import trio
from starlette.responses import Response

from smsswitch.config import TenantConfig
from smsswitch.http.errors import ApiError
from smsswitch.http.events import RecordLookup, event_from_deliver_sm
from smsswitch.server.api import BindInfo, OutboundDelivery, TenantSink
from smsswitch.smpp.constants import CommandStatus

log = structlog.get_logger("smsswitch.http")

_OK = int(CommandStatus.ESME_ROK)
#: Events written per chunk at most (one send, one batch of answers to the core).
CHUNK_EVENTS = 32


class SseOutlet:
    """The core's view of one open stream (a `DeliveryOutlet`)."""

    def __init__(self, bind: BindInfo, capacity: int) -> None:
        self.bind = bind
        self.capacity = capacity
        self.pending: dict[str, OutboundDelivery] = {}  # offered, not written yet
        self.send_channel, self.receive_channel = trio.open_memory_channel[OutboundDelivery](capacity)
        self.closed = False

    def offer(self, delivery: OutboundDelivery) -> bool:
        if self.closed or len(self.pending) >= self.capacity:
            return False
        try:
            self.send_channel.send_nowait(delivery)
        except (trio.WouldBlock, trio.ClosedResourceError):
            return False
        self.pending[delivery.entry_id] = delivery
        return True

    def room(self) -> int:
        return 0 if self.closed else self.capacity - len(self.pending)


def format_event(delivery: OutboundDelivery, lookup: RecordLookup | None) -> bytes:
    event = event_from_deliver_sm(delivery.entry_id, delivery.pdu, lookup)
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {delivery.entry_id}\nevent: {event['type']}\ndata: {data}\n\n".encode()


class EventStreams:
    """Opens streams for tenants, within per-tenant and total caps."""

    def __init__(
        self, core: TenantSink, lookup: RecordLookup | None = None, *, capacity: int = 32,
        write_timeout: float = 10.0, keepalive: float = 15.0, per_tenant: int = 4, total: int = 256,
    ) -> None:  # fmt: skip
        self.core = core
        self.lookup = lookup
        self.capacity = capacity
        self.write_timeout = write_timeout
        self.keepalive = keepalive
        self.per_tenant = per_tenant
        self.total = total
        self.open: dict[str, int] = {}
        self.dropped = 0
        self._ids = itertools.count(1)

    def response(self, tenant: TenantConfig, key_id: str, client: tuple[str, int] | None) -> Response:
        if self.open.get(tenant.name, 0) >= self.per_tenant or sum(self.open.values()) >= self.total:
            raise ApiError(429, "too_many_streams", "too many open event streams for this tenant", headers={"Retry-After": "5"})
        host, port = client or ("", 0)
        bind = BindInfo(f"sse:{key_id}:{next(self._ids)}", tenant, "receiver", host, port)
        return _StreamResponse(self, bind)

    async def serve(self, bind: BindInfo, receive: Callable[[], Any], send: Callable[[dict], Any]) -> None:
        name = bind.tenant.name
        self.open[name] = self.open.get(name, 0) + 1
        outlet = SseOutlet(bind, self.capacity)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
            self.core.outlet_up(outlet)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
                await self._pump(outlet, send)
                nursery.cancel_scope.cancel()
        finally:
            outlet.closed = True
            outlet.send_channel.close()
            self.open[name] -= 1
            self.core.outlet_down(outlet, list(outlet.pending.values()))

    async def _pump(self, outlet: SseOutlet, send: Callable[[dict], Any]) -> None:
        """Write until the reader is too slow (then return: the caller drops it)."""
        while True:
            batch: list[OutboundDelivery] = []
            with trio.move_on_after(self.keepalive):
                batch.append(await outlet.receive_channel.receive())
                while len(batch) < CHUNK_EVENTS:
                    try:
                        batch.append(outlet.receive_channel.receive_nowait())
                    except trio.WouldBlock:
                        break
            chunk = b"".join(format_event(d, self.lookup) for d in batch) if batch else b": keepalive\n\n"
            with trio.move_on_after(self.write_timeout) as writing:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if writing.cancelled_caught:
                self.dropped += 1
                log.info("sse.slow_reader_dropped", tenant=outlet.bind.tenant.name, bind=outlet.bind.bind_id,
                         unsent=len(outlet.pending))  # fmt: skip
                return
            if batch:
                for delivery in batch:
                    outlet.pending.pop(delivery.entry_id, None)
                await self.core.deliveries_answered(outlet.bind, [(d.entry_id, _OK) for d in batch])


async def _until_disconnect(receive: Callable[[], Any], scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class _StreamResponse(Response):
    """A Starlette response that runs the stream itself (raw ASGI send/receive)."""

    def __init__(self, streams: EventStreams, bind: BindInfo) -> None:
        super().__init__(media_type="text/event-stream")
        self.streams = streams
        self.bind = bind

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.streams.serve(self.bind, receive, send)
