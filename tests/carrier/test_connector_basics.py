"""Connector against the simulator over real TCP: submits, ids, receipts, MO, errors."""

from __future__ import annotations

import pytest
import trio

from smsswitch.carrier.api import SubmitOutcome
from smsswitch.carrier.connector import Connector
from smsswitch.smpp.constants import CommandStatus, Tag
from smsswitch.smpp.receipt import parse_receipt

from tests.carrier.conftest import FakeSink, connector_config, eventually, make_job, start_sim


@pytest.mark.parametrize("id_format", ["hex", "decimal"])
async def test_submits_accepted_and_receipts_carry_the_carrier_id(sink: FakeSink, id_format: str) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, id_format=id_format)
            connector = Connector(connector_config(sim.port, sessions=2), sink)
            nursery.start_soon(connector.run)
            for i in range(30):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.accepted()) == 30 and len(sink.delivers) == 30)
            assert all(len(results) == 1 for results in sink.outcomes().values())
            carrier_ids = {r.carrier_message_id for r in sink.accepted()}
            assert carrier_ids == {entry["message_id"] for entry in sim.received()}
            if id_format == "decimal":
                assert all(cid.isdigit() for cid in carrier_ids)
            for pdu in sink.delivers:
                assert pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] in carrier_ids
                receipt = parse_receipt(pdu.short_message)
                assert receipt is not None and receipt.id in carrier_ids and receipt.stat == "DELIVRD"
            health = connector.health()
            assert health.accepted == 30 and health.receipts == 30 and health.sessions_bound == 2
            assert health.latency_count == 30 and health.responses_by_status == {0: 30}
            await eventually(lambda: sim.stats()["receipts_sent"] == {"DELIVRD": 30})
            assert await connector.stop(1.0) == []
            nursery.cancel_scope.cancel()


async def test_receipt_before_submit_response_reaches_the_sink_first(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, receipt_before_response=True)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            for i in range(10):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.accepted()) == 10 and len(sink.delivers) == 10)
            position = {}
            for index, (kind, items) in enumerate(sink.calls):
                for item in items:
                    if kind == "delivers":
                        position.setdefault(("receipt", item.tlvs[Tag.RECEIPTED_MESSAGE_ID]), index)
                    elif kind == "results":
                        position[("result", item.carrier_message_id)] = index
            for result in sink.accepted():
                cid = result.carrier_message_id
                assert position[("receipt", cid)] < position[("result", cid)]
            await eventually(lambda: sim.stats()["deliver_resp_statuses"] == {"0x00000000": 10})
            nursery.cancel_scope.cancel()


async def test_mo_is_forwarded_and_answered_with_the_sinks_status() -> None:
    statuses = iter([CommandStatus.ESME_RX_T_APPN, 0])
    sink = FakeSink(deliver_status=lambda pdu: next(statuses))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            await sim.inject_mo("447700900123", "12345", "STOP now")
            # The first answer asks the carrier to retry later; the simulator does.
            await sink.wait_for(lambda: len(sink.delivers) == 2)
            mo = sink.delivers[-1]
            assert (mo.source_addr, mo.destination_addr, mo.short_message) == ("447700900123", "12345", b"STOP now")
            assert mo.esm_class == 0
            await eventually(lambda: sim.stats()["deliver_resp_statuses"] == {"0x00000064": 1, "0x00000000": 1})
            assert connector.health().mo == 2
            nursery.cancel_scope.cancel()


async def test_permanent_error_is_rejected_after_one_attempt(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, fail_fraction=1.0, fail_status=CommandStatus.ESME_RINVDSTADR)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            for i in range(5):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.results) == 5)
            assert {r.outcome for r in sink.results} == {SubmitOutcome.REJECTED}
            assert {r.command_status for r in sink.results} == {CommandStatus.ESME_RINVDSTADR}
            assert all(r.job.attempts == 1 for r in sink.results)
            assert sim.stats()["submits_received"] == 5
            nursery.cancel_scope.cancel()


async def test_transient_error_is_retried_then_given_up(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, fail_fraction=1.0, fail_status=CommandStatus.ESME_RSYSERR)
            connector = Connector(connector_config(sim.port, max_attempts=3), sink)
            nursery.start_soon(connector.run)
            for i in range(4):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.results) == 4)
            assert {r.outcome for r in sink.results} == {SubmitOutcome.GAVE_UP}
            assert all(r.job.attempts == 3 and r.command_status == CommandStatus.ESME_RSYSERR for r in sink.results)
            assert sim.stats()["submits_received"] == 12
            assert len(sink.sent) == 12  # every send was announced
            nursery.cancel_scope.cancel()


async def test_expired_job_is_not_sent(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await connector.submit(make_job(1, deadline=1.0))  # 1970
            await connector.submit(make_job(2))
            await sink.wait_for(lambda: len(sink.results) == 2)
            outcomes = {r.job.message_id: r.outcome for r in sink.results}
            assert outcomes == {"m1": SubmitOutcome.EXPIRED, "m2": SubmitOutcome.ACCEPTED}
            assert sim.stats()["submits_received"] == 1
            nursery.cancel_scope.cancel()


async def test_pair_mode_submits_on_transmitter_and_receives_on_receiver(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, id_format="decimal", receipts_in="tlv")
            connector = Connector(connector_config(sim.port, bind_mode="pair"), sink)
            nursery.start_soon(connector.run)
            for i in range(10):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.accepted()) == 10 and len(sink.delivers) == 10)
            assert sim.stats()["binds_by_type"] == {"transmitter": 1, "receiver": 1}
            assert all(pdu.short_message == b"" for pdu in sink.delivers)  # TLVs only
            assert connector.health().sessions_bound == 2
            nursery.cancel_scope.cancel()
