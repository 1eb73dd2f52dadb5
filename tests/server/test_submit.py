"""Submits over real TCP: answers, throttling, window back-pressure, multi, data_sm,
query/cancel/replace, and an smpplib client end to end."""

from __future__ import annotations

import socket

import smpplib.client
import smpplib.consts
import structlog
import trio

from smsswitch.server.api import BindInfo, SubmitRequest
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import CommandId, Tag
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import (
    CancelSm,
    DataSm,
    DistributionList,
    QuerySm,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitSm,
)
from tests.server.conftest import DEST, PASSWORD, make_config, make_tenant, running_server
from tests.server.fakes import FakeSink, RawClient


def sms(**fields: object) -> SubmitSm:
    values: dict[str, object] = dict(source_addr="Brand", source_addr_ton=5, destination_addr=DEST,
                                     dest_addr_ton=1, dest_addr_npi=1, short_message=b"hello")
    values.update(fields)
    return SubmitSm(**values)  # type: ignore[arg-type]


async def test_submit_answers_in_order_with_core_ids_and_statuses() -> None:
    sink = FakeSink()
    sink.decide = lambda r: S.ESME_RMSGQFUL if r.payload == b"full" else S.ESME_ROK
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            client = await run.bound()
            await client.send(sms(), sms(destination_addr=""), sms(short_message=b"full"), sms(data_coding=0x0B))
            answers = [await client.recv() for _ in range(4)]
            assert [a.command_status for a in answers] == [  # type: ignore[union-attr]
                S.ESME_ROK, S.ESME_RINVDSTADR, S.ESME_RMSGQFUL, S.ESME_RINVDCS]
            assert [a.sequence_number for a in answers] == [2, 3, 4, 5]  # type: ignore[union-attr]
            assert answers[0].message_id == "m1"  # type: ignore[union-attr]
            assert answers[2].message_id == ""  # type: ignore[union-attr]
            assert sink.batches == [2]  # one core call for everything one read carried
            bind, request = sink.submitted[0]
            assert isinstance(bind, BindInfo) and bind.tenant.system_id == "acme"
            assert bind.bind_type == "transceiver" and bind.peer_host == "127.0.0.1"
            assert isinstance(request, SubmitRequest) and request.destination.e164 == "+" + DEST
            stats = run.server.stats()["submits"]
            assert stats["ESME_ROK"] == 1 and stats["ESME_RINVDSTADR"] == 1


async def test_core_failure_answers_syserr_and_bind_survives() -> None:
    sink = FakeSink()

    def explode(request: SubmitRequest) -> int:
        raise RuntimeError("core bug")

    sink.decide = explode
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            client = await run.bound()
            assert (await client.request(sms())).command_status == S.ESME_RSYSERR
            sink.decide = lambda r: S.ESME_ROK
            assert (await client.request(sms())).command_status == S.ESME_ROK


async def test_bind_throttle_returns_0x58_then_accepts_again() -> None:
    sink = FakeSink()
    with trio.fail_after(10):
        async with running_server(tenants=[make_tenant(bind_tps=5.0)], sink=sink) as run:
            client = await run.bound()
            await client.send(*[sms() for _ in range(20)])
            statuses = [(await client.recv()).command_status for _ in range(20)]  # type: ignore[union-attr]
            accepted = statuses.count(S.ESME_ROK)
            assert 1 <= accepted <= 3
            assert statuses.count(S.ESME_RTHROTTLED) == 20 - accepted
            assert len(sink.submitted) == accepted  # throttled ones never reached the core
            await trio.sleep(0.5)  # below the rate again
            assert (await client.request(sms())).command_status == S.ESME_ROK


async def test_tenant_throttle_is_shared_across_binds() -> None:
    sink = FakeSink()
    with trio.fail_after(10):
        async with running_server(tenants=[make_tenant(tenant_tps=5.0)], sink=sink) as run:
            first, second = await run.bound(), await run.bound()
            statuses = []
            for client in (first, second):
                await client.send(*[sms() for _ in range(10)])
                statuses += [(await client.recv()).command_status for _ in range(10)]  # type: ignore[union-attr]
            assert 1 <= statuses.count(S.ESME_ROK) <= 3
            assert statuses.count(S.ESME_RTHROTTLED) >= 17


async def test_window_back_pressure_bounds_what_the_core_holds() -> None:
    """10,000 pipelined submits against a core that blocks: the server stops reading at the
    window, and once the core moves everything is answered."""
    total, window = 10_000, 10
    sink = FakeSink()
    sink.gate = trio.Event()
    frame = encode_pdu(sms(sequence_number=1))
    with trio.fail_after(30):
        async with running_server(tenants=[make_tenant(window=window)], sink=sink) as run:
            client = await run.bound()
            statuses: list[int] = []

            async def pipeline() -> None:
                # One buffer with every submit: the server only reads as the window allows.
                await client.send_bytes(frame * total)

            async def read_all() -> None:
                while len(statuses) < total:
                    response = await client.recv()
                    assert response is not None
                    statuses.append(response.command_status)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pipeline)
                nursery.start_soon(read_all)
                await trio.sleep(0.3)
                assert sink.in_flight == window  # the core holds one window...
                assert run.server.stats()["max_outstanding"] <= window  # ...and never more
                assert statuses == []
                sink.gate.set()
            assert statuses.count(S.ESME_ROK) == total
            assert sink.max_in_flight <= window
            assert run.server.stats()["max_outstanding"] <= window
            assert max(sink.batches) <= window


async def test_submit_multi_mixed_destinations_over_the_wire() -> None:
    sink = FakeSink()
    sink.decide = lambda r: S.ESME_RMSGQFUL if r.destination.e164 == "+447911123456" else S.ESME_ROK
    pdu = SubmitMulti(source_addr="Brand", source_addr_ton=5, short_message=b"hi", dest_address=[
        SmeAddress(1, 1, DEST), SmeAddress(1, 1, "49000000000001"), DistributionList("team"),
        SmeAddress(1, 1, "447911123456"), SmeAddress(1, 1, "263771234567")])
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            client = await run.bound()
            response = await client.request(pdu)
            assert response.command_id == CommandId.SUBMIT_MULTI_RESP
            assert response.command_status == S.ESME_ROK
            assert response.message_id == "m1"  # type: ignore[attr-defined]
            failed = {u.destination_addr: u.error_status_code for u in response.unsuccess_smes}  # type: ignore[attr-defined]
            assert failed == {"49000000000001": S.ESME_RINVDSTADR, "team": S.ESME_RINVDLNAME,
                              "447911123456": S.ESME_RMSGQFUL}
            assert len(sink.submitted) == 3


async def test_data_sm_query_cancel_replace() -> None:
    sink = FakeSink()
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            client = await run.bound()
            response = await client.request(DataSm(source_addr="Brand", source_addr_ton=5, destination_addr=DEST,
                                                   dest_addr_ton=1, tlvs={Tag.MESSAGE_PAYLOAD: b"data"}))
            assert response.command_id == CommandId.DATA_SM_RESP
            assert (response.command_status, response.message_id) == (S.ESME_ROK, "m1")  # type: ignore[attr-defined]
            assert sink.submitted[0][1].payload == b"data"
            response = await client.request(QuerySm(message_id="m1", source_addr="Brand"))
            assert (response.command_status, response.message_state) == (S.ESME_ROK, 2)  # type: ignore[attr-defined]
            assert (await client.request(QuerySm(message_id="unknown"))).command_status == S.ESME_RQUERYFAIL
            assert (await client.request(CancelSm(message_id="m1"))).command_status == S.ESME_ROK
            assert (await client.request(CancelSm(message_id="m9"))).command_status == S.ESME_RCANCELFAIL
            response = await client.request(ReplaceSm(message_id="m1", short_message=b"new"))
            assert response.command_status == S.ESME_ROK
            assert (await client.request(ReplaceSm(message_id="m9"))).command_status == S.ESME_RREPLACEFAIL
            bad = ReplaceSm(message_id="m1", validity_period="nonsense")
            assert (await client.request(bad)).command_status == S.ESME_RINVEXPIRY
            assert sink.replaces == [("m1", b"new"), ("m9", b"")]


async def test_receiver_bind_may_not_submit() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.bound(kind="receiver")
            assert (await client.request(sms())).command_status == S.ESME_RINVBNDSTS


def _smpplib_session(port: int) -> list[tuple[int, str]]:
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    client.connect()
    try:
        client.bind_transmitter(system_id="acme", password=PASSWORD)
        results = []
        for destination in (DEST, "49000000000001"):
            client.send_message(source_addr_ton=5, source_addr="Brand", dest_addr_ton=1, dest_addr_npi=1,
                                destination_addr=destination, short_message=b"hello from smpplib")
            response = client.read_pdu()
            results.append((int(response.status), response.message_id.decode() if response.message_id else ""))
        unbind = client.unbind()
        assert unbind.command == "unbind_resp"
        return results
    finally:
        client.disconnect()


async def test_smpplib_bind_submit_unbind() -> None:
    sink = FakeSink()
    with trio.fail_after(15):
        async with running_server(sink=sink) as run:
            results = await trio.to_thread.run_sync(_smpplib_session, run.port)
            assert results == [(S.ESME_ROK, "m1"), (S.ESME_RINVDSTADR, "")]
            assert sink.submitted[0][1].payload == b"hello from smpplib"
            with trio.fail_after(2):
                while run.server.stats()["binds"]:
                    await trio.sleep(0.01)


async def test_a_tenant_that_stops_reading_is_cut_after_the_response_timeout() -> None:
    """Responses nobody reads fill the socket: the server waits response_timeout (at least
    1 s) for room, then ends the connection ("write_timeout"); other binds are untouched."""
    frame = encode_pdu(sms(sequence_number=1))
    with trio.fail_after(30), structlog.testing.capture_logs() as logs:
        async with running_server(config=make_config(response_timeout=0.2), tenants=[make_tenant(window=100)]) as run:
            sock = trio.socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
            await sock.connect(("127.0.0.1", run.port))
            stuck = RawClient(trio.SocketStream(sock))
            assert (await stuck.bind("acme", PASSWORD)).command_status == S.ESME_ROK
            other = await run.bound()
            with trio.move_on_after(20):
                while True:  # submits (never reading a response) until the server stops reading
                    with trio.move_on_after(3) as blocked:
                        try:
                            await stuck.send_bytes(frame * 1000)
                        except trio.BrokenResourceError:
                            break  # it already cut us off
                    if blocked.cancelled_caught:
                        break
            while (await stuck.recv()) is not None:  # what was queued, then the close
                pass
            assert (await other.request(sms())).command_status == S.ESME_ROK
    reasons = [e.get("reason") for e in logs if e["event"] == "unbind"]
    assert "write_timeout" in reasons
