"""The simulator's own behaviours and its command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import trio

from smsswitch.carrier.connector import Connector
from smsswitch.carrier.simulator import add_simulator_arguments, config_from_args
from smsswitch.smpp.constants import Tag
from smsswitch.smpp.receipt import parse_receipt

from tests.carrier.conftest import FakeSink, connector_config, eventually, make_job, start_sim

ROOT = Path(__file__).resolve().parents[2]


async def test_state_mix_quirky_ids_and_registered_delivery(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(
                nursery,
                id_format="hex",
                receipt_id_format="decimal",
                final_states=(("DELIVRD", 1.0), ("UNDELIV", 1.0)),
            )
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            for i in range(30):
                await connector.submit(make_job(i))
            await connector.submit(make_job(100, registered_delivery=0))  # no receipt wanted
            await connector.submit(make_job(101, registered_delivery=2))  # failures only
            await sink.wait_for(lambda: len(sink.accepted()) == 32)
            await eventually(lambda: sim.stats()["receipts_pending"] == 0)
            await trio.sleep(0.1)
            hex_ids = {r.carrier_message_id for r in sink.accepted()}
            states = Counter()
            for pdu in sink.delivers:
                receipt = parse_receipt(pdu.short_message)
                # The quirk: hex in submit_sm_resp, decimal in the receipt.
                assert format(int(receipt.id), "x") in hex_ids
                assert pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] == receipt.id
                states[receipt.stat] += 1
            assert set(states) == {"DELIVRD", "UNDELIV"}
            assert 30 <= len(sink.delivers) <= 31
            assert sim.stats()["receipts_sent"] == dict(states)
            nursery.cancel_scope.cancel()


def test_command_line_options_build_the_config() -> None:
    parser = argparse.ArgumentParser()
    add_simulator_arguments(parser)
    args = parser.parse_args(
        "--port 0 --id-format decimal --mix DELIVRD=0.9,UNDELIV=0.1 --throttle-above 100 "
        "--fail-fraction 0.05 --fail-status 0x0B --drop-every 50 --stall 1000:2.5 --receipt-first".split()
    )
    config = config_from_args(args)
    assert config.id_format == "decimal" and config.final_states == (("DELIVRD", 0.9), ("UNDELIV", 0.1))
    assert (config.throttle_above, config.fail_fraction, config.fail_status) == (100, 0.05, 0x0B)
    assert (config.drop_every, config.stall_after, config.stall_for) == (50, 1000, 2.5)
    assert config.receipt_before_response


def test_standalone_simulator_reports_json_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "carrier_sim.py"), "--port", "0", "--report"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = process.stderr.readline()
        assert "listening on 127.0.0.1:" in line
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["submits_received"] == 0


async def test_mo_waits_for_a_receiver_and_stats_are_json(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            await sim.inject_mo("447700900555", "12345", "hello ☺", data_coding=8)
            assert sim.stats()["receipts_pending"] == 1
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await sink.wait_for(lambda: len(sink.delivers) == 1)
            assert sink.delivers[0].short_message == "hello ☺".encode("utf-16-be")
            assert sink.delivers[0].data_coding == 8
            assert sim.drop_connections() == 1
            await eventually(lambda: connector.health().reconnects >= 1)
            json.dumps(sim.stats())
            json.dumps(sim.received())
            nursery.cancel_scope.cancel()
