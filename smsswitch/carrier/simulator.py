"""The carrier simulator: `CarrierSimulator` (see `sim_server`) and its command line.

Standalone:  python -m smsswitch.carrier.simulator --port 2776 --id-format decimal \\
                 --mix DELIVRD=0.9,UNDELIV=0.1 --receipt-delay 0.2 --report
The daemon's `smsswitch simulate-carrier` uses the same `add_simulator_arguments` and
`run_simulator_from_args`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

import trio

from smsswitch.carrier.sim_model import parse_mix
from smsswitch.carrier.sim_server import _RECEIPT_MODES, CarrierSimulator
from smsswitch.config import SimulatorConfig, TlsServerConfig
from smsswitch.gctune import tune_for_daemon

__all__ = [
    "CarrierSimulator",
    "add_simulator_arguments",
    "config_from_args",
    "main",
    "run_simulator_from_args",
    "serve_with_reports",
]

def add_simulator_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared by `smsswitch simulate-carrier` and this module)."""
    d = SimulatorConfig()
    add = parser.add_argument
    add("--host", default=d.host, help="address to listen on (default %(default)s)")
    add("--port", type=int, default=d.port, help="port, 0 = any free (default %(default)s)")
    add("--system-id", default=d.system_id, help="the only system_id accepted")
    add("--password", default=d.password, help="its password")
    add("--receipt-delay", type=float, default=d.receipt_delay, help="seconds before a receipt")
    add("--id-format", choices=("hex", "decimal"), default=d.id_format, help="message ids in submit_sm_resp")
    add("--receipt-id-format", choices=("same", "hex", "decimal"), default=d.receipt_id_format,
        help="ids in receipts (a carrier quirk: another base than in submit_sm_resp)")
    add("--mix", default="DELIVRD=1", help="final receipt states with weights, e.g. DELIVRD=0.9,UNDELIV=0.1")
    add("--receipts-in", choices=_RECEIPT_MODES, default=d.receipts_in, help="receipt data in text, TLVs or both")
    add("--receipt-first", action="store_true", help="send each receipt before its submit_sm_resp")
    add("--throttle-above", type=float, default=0.0, metavar="TPS", help="answer 0x58 above this rate")
    add("--fail-fraction", type=float, default=0.0, help="fraction of submits answered --fail-status")
    add("--fail-status", type=lambda v: int(v, 0), default=d.fail_status, help="status for failed submits")
    add("--drop-every", type=int, default=0, metavar="N", help="hang up on each connection's Nth submit")
    add("--stall", default=None, metavar="N:SECONDS", help="after every N submits, stop answering for SECONDS")
    add("--refuse-binds-for", type=float, default=0.0, metavar="SECONDS", help="refuse binds at first")
    add("--response-delay", type=float, default=0.0, metavar="SECONDS", help="answer submits this late (reading goes on meanwhile, as over a link with latency)")
    add("--window", type=int, default=d.window, help="outstanding deliver_sm per connection")
    add("--tls-cert", default=None, help="serve TLS with this certificate (PEM)")
    add("--tls-key", default=None, help="... and this key (PEM)")
    add("--seed", type=int, default=None, help="random seed (repeatable failure and state mix)")
    add("--report", action="store_true", help="print stats as JSON on SIGINT/SIGTERM")
    add("--report-every", type=float, default=0.0, metavar="SECONDS", help="... and every SECONDS")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    stall_after, stall_for = 0, 0.0
    if args.stall:
        count, _, seconds = args.stall.partition(":")
        stall_after, stall_for = int(count), float(seconds or 1.0)
    tls = None
    if args.tls_cert:
        tls = TlsServerConfig(cert_file=args.tls_cert, key_file=args.tls_key or args.tls_cert)
    return SimulatorConfig(
        enabled=True,
        host=args.host,
        port=args.port,
        system_id=args.system_id,
        password=args.password,
        receipt_delay=args.receipt_delay,
        id_format=args.id_format,
        final_states=parse_mix(args.mix),
        receipts_in=args.receipts_in,
        receipt_id_format=args.receipt_id_format,
        receipt_before_response=args.receipt_first,
        throttle_above=args.throttle_above,
        fail_fraction=args.fail_fraction,
        fail_status=args.fail_status,
        drop_every=args.drop_every,
        stall_after=stall_after,
        stall_for=stall_for,
        refuse_binds_for=args.refuse_binds_for,
        response_delay=args.response_delay,
        tls=tls,
        window=args.window,
        seed=args.seed,
    )


async def serve_with_reports(sim: CarrierSimulator, report: bool, every: float) -> None:
    """Serve until SIGINT/SIGTERM; print stats JSON then (and every `every` seconds)."""

    def emit() -> None:
        print(json.dumps(sim.stats(), sort_keys=True), flush=True)

    async def periodic() -> None:
        while True:
            await trio.sleep(every)
            emit()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(sim.serve)
            print(f"carrier simulator listening on {sim.config.host}:{port}", file=sys.stderr, flush=True)
            if report and every > 0:
                nursery.start_soon(periodic)
            async for _ in signals:
                break
            if report:
                emit()
            nursery.cancel_scope.cancel()


def run_simulator_from_args(args: argparse.Namespace) -> int:
    """Blocking entry point for the parsed options; returns the process exit code."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sim = CarrierSimulator(config)
    tune_for_daemon()  # a long-running process too: see gctune
    trio.run(serve_with_reports, sim, args.report, args.report_every)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smsswitch.carrier.simulator",
        description="An SMPP 3.4 carrier simulator (SMSC) for tests, demos and benchmarks.",
    )
    add_simulator_arguments(parser)
    return run_simulator_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
