#!/usr/bin/env python3
"""Soak: the daemon under steady load for a while, with random carrier faults, then every
message checked end to end.

    .venv/bin/python scripts/soak.py --minutes 10 --rate 200 [--fault-every 20] [--seed 1] [--kills 0]

The daemon runs as its own process (smsswitch.harness); two carrier simulators run in this
process (route: failover from "a" to "b"), and a tenant submits at --rate on a transceiver bind
and collects receipts. About every --fault-every seconds carrier "a" (sometimes "b") suffers one
of: hang-up of every session mid-window, a stall (no response, no enquire_link_resp),
throttling above half the rate, refused binds after a hang-up, or a restart. --kills N also
kill -9s the daemon N times (restarting it on the same journal).

At the end submitting stops, the backlog drains, and the script prints counts: accepted,
refused, at the carrier (duplicates), receipts delivered (duplicates), lost (must be 0), receipts
missing (must be 0), journal check, daemon RSS at start / after warm-up / peak / end, and open
file descriptors. Exit status 0 only if nothing was lost or left unreceipted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trio  # noqa: E402

from smsswitch.harness import DaemonProcess  # noqa: E402
from tests.faults.rig import (  # noqa: E402
    LoadTenant,
    SimRig,
    TenantLog,
    daemon_config,
    daemon_log_problems,
    fd_count,
    journal_report,
    kill9,
    routes_with,
    rss_kib,
    start_daemon,
    stop_daemon,
)

FAULTS = ("hangup", "stall", "throttle", "refuse", "restart")


def parked_receipts(path: Path) -> int:
    from smsswitch.core.owed import PARKED_TENANT
    from smsswitch.journal.journal import Journal

    journal = Journal.open_readonly(path)
    try:
        return len(journal.outbox_for(PARKED_TENANT, limit=1_000_000))
    finally:
        journal.close()


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = Path(tempfile.mkdtemp(prefix="smsswitch-soak-"))
        self.log = TenantLog()
        self.faults: Counter[str] = Counter()
        self.rss: list[tuple[float, int]] = []
        self.fds: list[int] = []
        self.kills = 0

    def note(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    async def fault(self, rig: SimRig, rate: float) -> None:
        kind = self.rng.choice(FAULTS)
        self.faults[kind] += 1
        sim = rig.sim
        if kind == "hangup":
            sim.drop_connections()
        elif kind == "stall":
            sim.stall(self.rng.uniform(2, 6))
        elif kind == "throttle":
            sim.throttle(rate / 2)
            await trio.sleep(self.rng.uniform(2, 6))
            sim.throttle(0)
        elif kind == "refuse":
            sim.refuse_binds(self.rng.uniform(1, 4))
            sim.drop_connections()
        else:  # restart: what the simulator still owes dies with it, so let it deliver first
            sim.throttle(0.001)
            with trio.move_on_after(5):
                while sim.stats()["receipts_pending"] or any(
                    c["outstanding_deliver_sm"] + c["backlog"] for c in sim.connections()
                ):
                    await trio.sleep(0.05)
            await rig.restart(down_for=self.rng.uniform(0.5, 3))
        self.note(f"fault: {kind} on carrier port {rig.port}")

    async def sample(self, daemon: DaemonProcess) -> None:
        while True:
            if daemon.process is not None and daemon.process.poll() is None:
                try:
                    pid = daemon.process.pid
                    self.rss.append((time.monotonic(), rss_kib(pid), rss_kib(pid, "RssAnon"), rss_kib(pid, "RssFile")))
                    self.fds.append(fd_count(pid))
                except (OSError, RuntimeError):
                    pass
            await trio.sleep(5)

    async def run(self) -> int:
        args = self.args
        total_seconds = args.minutes * 60
        keep = int(args.rate * total_seconds * 1.5) + 10_000
        async with trio.open_nursery() as nursery:
            a = SimRig(nursery, receipt_delay=0.2, keep_received=keep, seed=args.seed)
            b = SimRig(nursery, receipt_delay=0.2, keep_received=keep, seed=args.seed)
            await a.start()
            await b.start()
            config = daemon_config(self.workdir, {"a": a.port, "b": b.port}, routes_with(["a", "b"]),
                                   logging={"level": "warning", "format": "json"})  # fmt: skip
            daemon = DaemonProcess(config)
            try:
                await start_daemon(daemon)
                pid = daemon.process.pid  # type: ignore[union-attr]
                rss_start, fds_start = rss_kib(pid), fd_count(pid)
                heap_start = rss_kib(pid, "RssAnon")
                self.note(f"daemon pid {pid}, port {daemon.smpp_port}, dir {self.workdir}; "
                          f"{args.minutes} min at {args.rate}/s, seed {args.seed}")  # fmt: skip
                nursery.start_soon(self.sample, daemon)
                stop_submitting = trio.Event()
                tenant = LoadTenant(daemon.smpp_port, self.log, rate=args.rate, workers=max(4, int(args.rate // 25)),
                                    prefix="s")  # fmt: skip
                nursery.start_soon(tenant.run, stop_submitting)
                started = time.monotonic()
                kill_times = sorted(self.rng.uniform(0.1, 0.9) * total_seconds for _ in range(args.kills))
                next_report = started + 60
                while (now := time.monotonic()) - started < total_seconds:
                    await trio.sleep(min(self.rng.expovariate(1 / args.fault_every), started + total_seconds - now))
                    if time.monotonic() - started >= total_seconds:
                        break
                    if kill_times and time.monotonic() - started >= kill_times[0]:
                        kill_times.pop(0)
                        await kill9(daemon)
                        self.kills += 1
                        counts, problems = journal_report(self.workdir / "journal")
                        self.note(f"kill -9 #{self.kills}: journal {'consistent' if not problems else problems[:3]}")
                        await start_daemon(daemon)
                        continue
                    await self.fault(a if self.rng.random() < 0.8 else b, args.rate)
                    if time.monotonic() >= next_report:
                        next_report += 60
                        self.note(f"{len(self.log.accepted)} accepted, {sum(1 for i in self.log.accepted if i in self.log.receipts)} "
                                  f"receipted, refused {dict(self.log.refused)}, rss {self.rss[-1][1] if self.rss else '?'} KiB")  # fmt: skip
                stop_submitting.set()
                self.note(f"submitting stopped after {time.monotonic() - started:.0f} s: draining")
                a.sim.throttle(0)
                b.sim.throttle(0)
                missing = await self.log.wait_receipts(args.drain)
                await trio.sleep(1)
                pid = daemon.process.pid  # type: ignore[union-attr]
                rss_end, fds_end = rss_kib(pid), fd_count(pid)
                heap_end, file_end = rss_kib(pid, "RssAnon"), rss_kib(pid, "RssFile")
                caught = daemon_log_problems(daemon)
                code = await stop_daemon(daemon)
            finally:
                daemon.close()
                a.stop()
                b.stop()
                nursery.cancel_scope.cancel()
        counts, problems = journal_report(self.workdir / "journal")
        parked = parked_receipts(self.workdir / "journal")
        copies = a.texts() + b.texts()
        accepted_texts = set(self.log.accepted.values())
        lost = [t for t in accepted_texts if copies[t] == 0]
        duplicates = sum(n - 1 for t, n in copies.items() if n > 1)
        receipts = sum(self.log.receipts.values())
        receipt_dups = sum(n - 1 for n in self.log.receipts.values() if n > 1)
        warm = next((r for r in self.rss if r[0] - self.rss[0][0] >= 60), None) if self.rss else None
        peak = max((r[1] for r in self.rss), default=rss_end)
        heap_peak = max((r[2] for r in self.rss), default=heap_end)
        journal_mib = (self.workdir / "journal" / "data.mdb").stat().st_size / 2**20
        print()
        print(f"soak: {args.minutes:g} min at {args.rate:g} msg/s, seed {args.seed}, {sum(self.faults.values())} carrier faults "
              f"{dict(self.faults)}, daemon kill -9: {self.kills}")  # fmt: skip
        print(f"  accepted            {len(self.log.accepted):>9,}   (refused {sum(self.log.refused.values())} {dict(self.log.refused)}, "
              f"unanswered at kills {self.log.unanswered})")  # fmt: skip
        print(f"  at the carriers     {len(accepted_texts) - len(lost):>9,}   ({sum(copies.values()):,} copies: a {sum(a.texts().values()):,}, "
              f"b {sum(b.texts().values()):,}; duplicates {duplicates})")  # fmt: skip
        print(f"  receipts delivered  {len(set(self.log.accepted) & set(self.log.receipts)):>9,}   "
              f"({receipts:,} deliver_sm to the tenant, duplicates {receipt_dups})")  # fmt: skip
        print(f"  LOST                {len(lost):>9,}")
        print(f"  receipts missing    {len(missing):>9,}")
        states = {k[6:]: v for k, v in counts.items() if k.startswith("state.") and v}
        print(f"  journal             {'consistent' if not problems else problems[:3]}; states {states}; "
              f"owed to tenants {counts['outbox'] - parked}; receipts for unknown carrier ids (duplicates' other copies) "
              f"parked {parked}; dead letters {counts['dead_letters']}")  # fmt: skip
        mib = lambda kib: f"{kib / 1024:.1f}"  # noqa: E731
        print(f"  daemon RSS          start {mib(rss_start)} MiB, after 1 min {mib(warm[1]) if warm else '?'}, peak {mib(peak)}, "
              f"end {mib(rss_end)} MiB")  # fmt: skip
        print(f"    heap (RssAnon)    start {mib(heap_start)} MiB, after 1 min {mib(warm[2]) if warm else '?'}, peak {mib(heap_peak)}, "
              f"end {mib(heap_end)} MiB")  # fmt: skip
        print(f"    file (RssFile)    end {mib(file_end)} MiB: journal pages mapped in (data.mdb {journal_mib:.0f} MiB, "
              f"7-day retention) and code")  # fmt: skip
        print(f"  daemon fds          start {fds_start}, max {max(self.fds, default=fds_end)}, end {fds_end}")
        print(f"  daemon exit code    {code}; caught exceptions in its log: {len(caught)}")
        for line in caught[:3]:
            print("    ", line[:300])
        ok = not lost and not missing and not problems and code == 0
        print("RESULT:", "PASS" if ok else "FAIL", f"(kept {self.workdir})" if not ok else "")
        if ok:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="submits per second")
    parser.add_argument("--fault-every", type=float, default=20.0, help="mean seconds between carrier faults")
    parser.add_argument("--kills", type=int, default=0, help="kill -9 the daemon this many times")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the last receipts")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    return trio.run(Soak(args).run)


if __name__ == "__main__":
    sys.exit(main())
