"""Deliveries to tenants: deliver_sm through the bind's outlet, answers reported back in
batches, timeouts reported as unanswered, everything bounded."""

from __future__ import annotations

import smpplib.client
import trio

from smsswitch.server.api import OutboundDelivery
from smsswitch.server.outlet import DELIVERY_TIMED_OUT
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import DeliverSm, DeliverSmResp, Unbind
from tests.server.conftest import PASSWORD, make_tenant, running_server
from tests.server.fakes import FakeSink


def receipt(n: int) -> OutboundDelivery:
    pdu = DeliverSm(source_addr="4915112345678", destination_addr="Brand", esm_class=0x04,
                    short_message=f"id:m{n} sub:001 dlvrd:001 stat:DELIVRD err:000".encode())
    return OutboundDelivery(f"e{n}", pdu)


def _smpplib_receiver(port: int, expected: int, seen: list[bytes]) -> None:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)

    def on_message(pdu: object, **kwargs: object) -> int:
        seen.append(pdu.short_message)  # type: ignore[attr-defined]
        return S.ESME_ROK

    client.set_message_received_handler(on_message)
    client.connect()
    try:
        client.bind_receiver(system_id="acme", password=PASSWORD)
        for _ in range(expected * 3):  # bounded: each read_once handles one PDU
            if len(seen) >= expected:
                break
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_deliveries_to_smpplib_receiver_are_reported_answered() -> None:
    sink = FakeSink()
    count = 15
    seen: list[bytes] = []
    with trio.fail_after(15):
        async with running_server(tenants=[make_tenant(window=5)], sink=sink) as run:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.to_thread.run_sync, _smpplib_receiver, run.port, count, seen)
                await sink.outlet_event.wait()
                outlet = sink.outlets[0]
                assert outlet.bind.bind_type == "receiver" and outlet.bind.tenant.system_id == "acme"
                offered = 0
                while offered < count:  # the core's loop: offer while there is room
                    while offered < count and outlet.room():
                        assert outlet.offer(receipt(offered))
                        offered += 1
                    await trio.sleep(0.01)
            assert len(seen) == count
            assert sorted(sink.answered) == sorted((f"e{n}", S.ESME_ROK) for n in range(count))
            await wait_for(lambda: len(sink.down) == 1)
            assert sink.down[0][1] == []  # nothing left unanswered
            assert run.server.stats()["deliveries"]["answered_ok"] == count


async def test_receiver_that_never_answers_times_out_bounded() -> None:
    sink = FakeSink()
    window = 3
    tenant = make_tenant(window=window, deliver_timeout=0.3)
    with trio.fail_after(10):
        async with running_server(tenants=[tenant], sink=sink) as run:
            client = await run.bound(kind="receiver")
            await sink.outlet_event.wait()
            outlet = sink.outlets[0]
            accepted = [outlet.offer(receipt(n)) for n in range(10)]
            assert accepted == [True] * (2 * window) + [False] * (10 - 2 * window)  # bounded queue
            assert outlet.room() == 0
            received = [await client.recv() for _ in range(window)]
            assert all(isinstance(p, DeliverSm) for p in received)
            with trio.move_on_after(0.1):  # the window is full: nothing more comes yet
                assert await client.recv() is None
            await wait_for(lambda: len(sink.answered) >= window)
            assert sink.answered[:window] == [(f"e{n}", DELIVERY_TIMED_OUT) for n in range(window)]
            # The queued ones go out in the freed window, and time out in turn.
            received = [await client.recv() for _ in range(window)]
            assert all(isinstance(p, DeliverSm) for p in received)
            await wait_for(lambda: len(sink.answered) == 2 * window)
            assert {status for _, status in sink.answered} == {DELIVERY_TIMED_OUT}
            assert outlet.room() == 2 * window
            assert run.server.stats()["deliveries"]["timed_out"] == 2 * window


async def test_error_answers_and_outlet_down_with_unanswered() -> None:
    sink = FakeSink()
    with trio.fail_after(10):
        async with running_server(tenants=[make_tenant(window=2)], sink=sink) as run:
            client = await run.bound(kind="transceiver")
            await sink.outlet_event.wait()
            outlet = sink.outlets[0]
            for n in range(4):
                assert outlet.offer(receipt(n))
            first = await client.recv()
            second = await client.recv()
            assert isinstance(first, DeliverSm) and isinstance(second, DeliverSm)
            await client.send(DeliverSmResp(sequence_number=first.sequence_number,
                                            command_status=S.ESME_RX_T_APPN))
            await wait_for(lambda: len(sink.answered) == 1)
            assert sink.answered == [("e0", S.ESME_RX_T_APPN)]
            third = await client.recv()
            assert isinstance(third, DeliverSm)
            await client.request(Unbind())
            await wait_for(lambda: len(sink.down) == 1)
            down_outlet, unanswered = sink.down[0]
            assert down_outlet is outlet
            assert sorted(d.entry_id for d in unanswered) == ["e1", "e2", "e3"]
            assert not outlet.offer(receipt(9))  # a closed outlet takes nothing


async def test_transmitter_bind_has_no_outlet() -> None:
    sink = FakeSink()
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            await run.bound(kind="transmitter")
            await trio.sleep(0.05)
            assert sink.outlets == []
