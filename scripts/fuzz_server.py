#!/usr/bin/env python3
"""Throw hostile SMPP at a running smsswitch daemon, by the hundred thousand.

    .venv/bin/python scripts/fuzz_server.py --cases 100000 [--workers 8] [--seed 1]

Starts the daemon (its own config, journal and embedded carrier simulator in a temporary
directory), keeps a good tenant submitting on 127.0.0.1 throughout, and plays random and
mutated PDU streams (tests/faults/fuzzing.py: the same cases and oracle as the hypothesis test
in CI) from many connections at once, spread over source addresses 127.0.0.2-251. Every case
is checked against SMPP 3.4 (generic_nack/close where the spec says so, only whole PDUs back,
responses only to what was sent, prompt close); at the end the daemon must be alive, the good
tenant undisturbed and the daemon log free of caught exceptions. Exit status 0 only then.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smsswitch.harness import DaemonProcess, write_config  # noqa: E402
from tests.faults import fuzzing  # noqa: E402
from tests.faults.rig import daemon_log_problems, fd_count, rss_kib  # noqa: E402

SERVER = {
    "max_connections": 2000,
    "max_connections_per_ip": 200,
    "bind_timeout": 3,
    "idle_timeout": 3,
    "response_timeout": 2,
    "failed_bind_delay": 0,
    # Volume, not the limit, is the point here (tests/faults/test_hostile.py checks the limit).
    "failed_binds_per_ip_per_minute": 1_000_000,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop early after this long")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (daemon log, journal)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    workdir = Path(tempfile.mkdtemp(prefix="smsswitch-fuzz-"))
    config = write_config(workdir, {"server": SERVER, "tenants": {"fuzz": fuzzing.fuzz_tenant_config()},
                                    "logging": {"level": "warning", "format": "json"}})  # fmt: skip
    lock = threading.Lock()
    counter = iter(range(args.cases))
    tallies: Counter[str] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + args.max_minutes * 60
    stop = threading.Event()

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        addresses = (f"127.0.0.{2 + (index * 7 + i) % 250}" for i in range(10**12))
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            case = fuzzing.random_case(rng)
            try:
                outcome = fuzzing.play(case, daemon.smpp_port, next(addresses))
                problems = fuzzing.check(case, outcome)
            except OSError as exc:  # our side could not even connect: the daemon may be gone
                problems = [f"client error {exc!r}"]
                outcome = None
            kind = "failed" if problems else "reset" if outcome and outcome.reset else "ok"
            with lock:
                tallies[kind] += 1
                tallies["bound" if case.bound else "unbound"] += 1
                if problems and len(failures) < 20:
                    failures.append(f"case {number}: {fuzzing.summarize(problems)}\n    {fuzzing.describe(case, outcome)}")

    started = time.monotonic()
    with DaemonProcess(config) as daemon:
        daemon.start()
        pid = daemon.process.pid  # type: ignore[union-attr]
        rss_start, fds_start = rss_kib(pid), fd_count(pid)
        print(f"fuzzing daemon pid {pid} on port {daemon.smpp_port}: {args.cases} cases, {args.workers} workers, "
              f"seed {seed}, log {daemon.log_path}", flush=True)  # fmt: skip
        with fuzzing.GoodTenant(daemon.smpp_port) as good:
            threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
            for thread in threads:
                thread.start()
            last = time.monotonic()
            while any(t.is_alive() for t in threads):
                time.sleep(0.5)
                if daemon.process.poll() is not None:  # type: ignore[union-attr]
                    stop.set()
                    failures.append(f"DAEMON DIED with {daemon.process.returncode}:\n{daemon.log_tail()}")  # type: ignore[union-attr]
                    break
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    done = tallies["ok"] + tallies["reset"] + tallies["failed"]
                    print(f"  {done} cases, {done / (last - started):.0f}/s, {tallies['failed']} failed, "
                          f"rss {rss_kib(pid)} KiB, fds {fd_count(pid)}", flush=True)  # fmt: skip
            for thread in threads:
                thread.join(10)
            time.sleep(3)  # the last sessions' timers (bind/idle timeout) run out
        alive = daemon.process.poll() is None  # type: ignore[union-attr]
        rss_end = rss_kib(pid) if alive else 0
        fds_end = fd_count(pid) if alive else 0
        caught = daemon_log_problems(daemon)
        code = daemon.stop() if alive else daemon.process.returncode  # type: ignore[union-attr]
    elapsed = time.monotonic() - started
    played = tallies["ok"] + tallies["reset"] + tallies["failed"]
    report = {
        "cases": played,
        "passed": tallies["ok"] + tallies["reset"],
        "failed": tallies["failed"],
        "connections_reset_by_server": tallies["reset"],
        "bound_cases": tallies["bound"],
        "seconds": round(elapsed, 1),
        "cases_per_second": round(played / elapsed, 1),
        "daemon_alive_at_end": alive,
        "daemon_exit_code": code,
        "good_tenant_submits": good.ok,
        "good_tenant_failures": good.failures[:3],
        "caught_exceptions_in_log": len(caught),
        "rss_kib": [rss_start, rss_end],
        "fds": [fds_start, fds_end],
        "seed": seed,
    }
    print(json.dumps(report, indent=2))
    for failure in failures:
        print(failure)
    for line in caught[:5]:
        print("log:", line[:500])
    ok = (alive and code == 0 and not tallies["failed"] and not good.failures and good.ok > 0 and not caught
          and played >= args.cases)  # fmt: skip
    print("RESULT:", "PASS" if ok else "FAIL")
    if args.keep or not ok:
        print(f"kept {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
