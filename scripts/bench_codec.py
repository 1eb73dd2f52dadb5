#!/usr/bin/env python3
"""Codec throughput on one core: encode/decode rate of a typical 160-char submit_sm and
deliver_sm (plus a delivery receipt deliver_sm), printed as one JSON line.

Each figure is the best of --repeat timed runs of at least --min-seconds each, which
filters out most of the noise of a shared machine (it cannot remove it all).

    .venv/bin/python scripts/bench_codec.py [--repeat 5] [--min-seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smsswitch.smpp.codec import decode_pdu, encode_pdu  # noqa: E402
from smsswitch.smpp.constants import (  # noqa: E402
    ESM_CLASS_DELIVERY_RECEIPT,
    MessageState,
    Tag,
)
from smsswitch.smpp.pdu import DeliverSm, SubmitSm  # noqa: E402

TEXT_160 = (b"Your verification code is 482913. It expires in 10 minutes. "
            b"Do not share it with anyone. Questions? Reply HELP or call our support line 24/7.")
TEXT_160 = (TEXT_160 * 2)[:160]


def typical_submit_sm() -> SubmitSm:
    return SubmitSm(
        sequence_number=123456, source_addr_ton=5, source_addr_npi=0, source_addr="ACMEBANK",
        dest_addr_ton=1, dest_addr_npi=1, destination_addr="4915112345678",
        registered_delivery=1, data_coding=0, short_message=TEXT_160,
    )


def typical_deliver_sm() -> DeliverSm:
    return DeliverSm(
        sequence_number=654321, source_addr_ton=1, source_addr_npi=1,
        source_addr="4915112345678", dest_addr_ton=0, dest_addr_npi=1, destination_addr="12345",
        data_coding=0, short_message=TEXT_160,
    )


def receipt_deliver_sm() -> DeliverSm:
    text = (b"id:0a1b2c3d4e5f sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
            b"stat:DELIVRD err:000 text:Your verification")
    return DeliverSm(
        sequence_number=777, source_addr_ton=1, source_addr_npi=1, source_addr="4915112345678",
        destination_addr="ACMEBANK", esm_class=ESM_CLASS_DELIVERY_RECEIPT, short_message=text,
        tlvs={Tag.RECEIPTED_MESSAGE_ID: "0a1b2c3d4e5f", Tag.MESSAGE_STATE: MessageState.DELIVERED},
    )


def rate(operation: Callable[[], object], repeat: int, min_seconds: float) -> int:
    """Best operations/second over `repeat` runs of at least `min_seconds` each."""
    batch = 1000
    while True:  # size one run so that it lasts at least min_seconds
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or batch >= 50_000_000:
            break
        batch = int(batch * max(2.0, 1.2 * min_seconds / max(elapsed, 1e-6)))
    best = batch / elapsed
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        best = max(best, batch / (time.perf_counter() - start))
    return int(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    args = parser.parse_args()

    results: dict[str, object] = {}
    for name, pdu in (
        ("submit_sm", typical_submit_sm()),
        ("deliver_sm", typical_deliver_sm()),
        ("deliver_sm_receipt", receipt_deliver_sm()),
    ):
        frame = encode_pdu(pdu)
        assert decode_pdu(frame) == pdu
        results[f"{name}_decode_per_s"] = rate(lambda f=frame: decode_pdu(f), args.repeat,
                                               args.min_seconds)
        results[f"{name}_encode_per_s"] = rate(lambda p=pdu: encode_pdu(p), args.repeat,
                                               args.min_seconds)
        results[f"{name}_octets"] = len(frame)
    results["cpu_count"] = os.cpu_count()
    results["python"] = platform.python_version()
    results["repeat"] = args.repeat
    results["min_seconds"] = args.min_seconds
    print(json.dumps(results))


if __name__ == "__main__":
    main()
