"""Throughput of one connector against the simulator in a separate process (not a test).

    .venv/bin/python tests/carrier/bench_connector.py --messages 50000 --sessions 2 --window 100

Prints submits/s (submit_sm sent -> submit_sm_resp) and receipts/s seen by a counting sink.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from smsswitch.carrier.api import SubmitJob  # noqa: E402
from smsswitch.carrier.connector import Connector  # noqa: E402
from smsswitch.config import ConnectorConfig  # noqa: E402
from smsswitch.smpp.pdu import SubmitSm  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.results = 0
        self.delivers = 0
        self.sink_calls = 0

    async def submits_sent(self, connector, jobs) -> None:
        self.sink_calls += 1

    async def submit_results(self, connector, results) -> None:
        self.results += len(results)
        self.sink_calls += 1

    async def carrier_delivers(self, connector, pdus):
        self.delivers += len(pdus)
        self.sink_calls += 1
        return [0] * len(pdus)


async def bench(args: argparse.Namespace) -> None:
    sim = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "carrier_sim.py"), "--port", str(args.port),
         "--receipt-delay", "0.05", "--window", str(args.window)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        sim.stderr.readline()
        sink = CountingSink()
        config = ConnectorConfig(
            name="bench", host="127.0.0.1", port=args.port, system_id="sim", password="simpass",
            sessions=args.sessions, window=args.window, max_tps=args.tps,
        )
        connector = Connector(config, sink, queue_size=20_000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connector.run)
            while connector.health().sessions_bound < len(connector.links):
                await trio.sleep(0.01)
            started = time.perf_counter()
            cpu = time.process_time()
            for i in range(args.messages):
                pdu = SubmitSm(source_addr="BENCH", destination_addr=f"447700{i:07d}",
                               registered_delivery=1, short_message=b"benchmark message text")
                await connector.submit(SubmitJob(f"m{i}", pdu))
            while sink.results < args.messages:
                await trio.sleep(0.005)
            submitted = time.perf_counter() - started
            while sink.delivers < args.messages and time.perf_counter() - started < submitted + 10:
                await trio.sleep(0.005)
            total = time.perf_counter() - started
            cpu = time.process_time() - cpu
            health = connector.health()
            print(f"{args.messages} submits in {submitted:.2f}s = {args.messages / submitted:,.0f}/s; "
                  f"{sink.delivers} receipts by {total:.2f}s; connector CPU {cpu:.2f}s "
                  f"({cpu / args.messages * 1e6:.0f} us/msg incl. receipt); sink calls {sink.sink_calls}; "
                  f"mean latency {health.latency_sum / max(1, health.latency_count) * 1000:.1f} ms")
            await connector.stop(1.0)
            nursery.cancel_scope.cancel()
    finally:
        sim.terminate()
        sim.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--tps", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=27760)
    trio.run(bench, parser.parse_args())


if __name__ == "__main__":
    main()
