"""GET /v1/events: receipts and MO as server-sent events on the real switch; bounded
per connection, a slow reader is dropped and its events go back to the outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio
import trio.testing

from smsswitch.http.sse import EventStreams
from smsswitch.server.api import BindInfo, OutboundDelivery
from smsswitch.smpp.pdu import DeliverSm
from tests.http.stack import DEST, SHORT_CODE, running, tenant


async def read_events(response: Any, want: int, into: list[dict]) -> None:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if fields:
                into.append({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])})
                fields = {}
                if len(into) >= want:
                    return
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


async def test_stream_receives_a_receipt_and_an_mo(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http, stack.client("acme-read") as reader:
        events: list[dict] = []
        async with reader.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await stack.wait_for(lambda: stack.switch.outbox.outlets.get("acme"))
            r = await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "hi", "clientReference": "c9"})
            message_id = r.json()["messageId"]
            await stack.sim.inject_mo(DEST[1:], SHORT_CODE, "hello there")
            with trio.fail_after(10):
                await read_events(response, 2, events)
        by_type = {e["event"]: e for e in events}
        receipt = by_type["receipt"]["data"]
        assert (receipt["messageId"], receipt["status"], receipt["toNumber"], receipt["fromNumber"]) == (
            message_id, "DELIVRD", DEST, "ACME")
        assert receipt["clientReference"] == "c9" and receipt["carrier"] == "sim" and receipt["schemaVersion"] == 1
        assert by_type["receipt"]["id"] == receipt["eventId"]
        mo = by_type["mo"]["data"]
        assert (mo["fromNumber"], mo["toNumber"], mo["content"], mo["status"]) == (DEST, SHORT_CODE, "hello there", "RECEIVED")
        # written = answered: nothing is owed any more, and the outlet is gone with the stream
        await stack.wait_for(lambda: not stack.journal.outbox_for("acme") and not stack.switch.outbox.outlets.get("acme"))


async def test_streams_per_tenant_are_capped(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-read") as reader:
        stack.api.streams.per_tenant = 1
        async with reader.stream("GET", "/v1/events") as first:
            assert first.status_code == 200
            r = await reader.get("/v1/events")
            assert (r.status_code, r.json()["error"]["code"]) == (429, "too_many_streams")


class _Core:
    def __init__(self) -> None:
        self.up: list[Any] = []
        self.down: list[tuple[Any, list[OutboundDelivery]]] = []
        self.answered: list[tuple[str, int]] = []

    def outlet_up(self, outlet: Any) -> None:
        self.up.append(outlet)

    def outlet_down(self, outlet: Any, unanswered: list[OutboundDelivery]) -> None:
        self.down.append((outlet, unanswered))

    async def deliveries_answered(self, bind: BindInfo, answers: list[tuple[str, int]]) -> None:
        self.answered.extend(answers)


def mo(entry_id: str) -> OutboundDelivery:
    return OutboundDelivery(entry_id, DeliverSm(source_addr="263771234567", source_addr_ton=1,
                                                destination_addr=SHORT_CODE, short_message=b"hi"))  # fmt: skip


async def test_slow_reader_is_dropped_and_its_events_return_to_the_outbox() -> None:
    core = _Core()
    streams = EventStreams(core, capacity=4, write_timeout=0.2, keepalive=5.0)  # type: ignore[arg-type]
    writes: list[bytes] = []
    stuck = trio.Event()

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body" and b"event:" in message.get("body", b""):
            if writes:  # the reader stops reading after the first batch of events
                await stuck.wait()
            writes.append(message["body"])

    async def receive() -> dict:
        await trio.sleep_forever()
        return {}

    bind = BindInfo("sse:k:1", tenant("acme"), "receiver", "127.0.0.1", 1)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(streams.serve, bind, receive, send)
            await trio.testing.wait_all_tasks_blocked()
            outlet = core.up[0]
            assert outlet.offer(mo("e1")) and outlet.room() == 3
            await trio.testing.wait_all_tasks_blocked()
            assert core.answered == [("e1", 0)]
            offered = [outlet.offer(mo(f"e{i}")) for i in range(2, 8)]
            assert offered == [True] * 4 + [False] * 2  # bounded: the rest stays on disk
    assert streams.dropped == 1 and streams.open == {"acme": 0}
    (down, unanswered), = core.down
    assert down is outlet and sorted(d.entry_id for d in unanswered) == ["e2", "e3", "e4", "e5"]
    assert not outlet.offer(mo("e9")) and outlet.room() == 0
