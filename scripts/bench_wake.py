#!/usr/bin/env python3
"""How much slower a little Python work runs right after the process slept: the machine's wake-up penalty.

The daemon's CPU per message at moderate load is 2-3x its CPU per message at peak, with about
the same Python calls per message (README, Performance). This measures the cause on the
machine itself, without the switch: the same small piece of work (a few dicts and a
json.dumps, ~20 µs warm) is timed back to back, and right after sleeping 0.2, 1 and 5 ms.
On a machine whose idle cores keep their caches and clocks, the times match; on this VM they
do not, so whatever wakes often for little work pays several times its warm cost.

    .venv/bin/python scripts/bench_wake.py [--rounds 400] [--work 6]

Prints one JSON line: per sleep, the work's p50 and p90 in µs and the p50 ratio to warm.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def work(size: int) -> dict[int, str]:
    out = {}
    for i in range(size):
        out[i] = json.dumps({"a": i, "b": [i, i + 1]})
    return out


def measure(sleep_s: float, rounds: int, size: int) -> list[float]:
    clock = time.perf_counter
    times = []
    for _ in range(rounds):
        if sleep_s:
            time.sleep(sleep_s)
        start = clock()
        work(size)
        times.append(clock() - start)
    return sorted(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=400, help="timed runs of the work per sleep")
    ap.add_argument("--work", type=int, default=6, help="size of the work (json.dumps calls)")
    args = ap.parse_args(argv)
    measure(0, 50, args.work)  # warm up
    result: dict[str, object] = {"cpus": os.cpu_count(), "rounds": args.rounds, "work": args.work}
    warm_p50 = None
    for sleep_ms in (0, 0.2, 1, 5):
        times = measure(sleep_ms / 1000, args.rounds, args.work)
        p50 = times[len(times) // 2] * 1e6
        p90 = times[int(len(times) * 0.9)] * 1e6
        warm_p50 = warm_p50 or p50
        result[f"after_{sleep_ms}ms"] = {"p50_us": round(p50, 1), "p90_us": round(p90, 1), "ratio": round(p50 / warm_p50, 2)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
