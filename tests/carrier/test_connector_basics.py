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
