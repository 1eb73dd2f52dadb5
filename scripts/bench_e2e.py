#!/usr/bin/env python3
"""End-to-end benchmark: tenant submit -> switch (durable journal) -> carrier -> receipt back.

Starts, as separate processes on 127.0.0.1:
  - the carrier simulator (`python -m smsswitch.carrier.simulator`), with the carrier
    round-trip delay (--carrier-rtt-ms) and receipt delay injected there;
  - the real daemon (`smsswitch run`, durable journal, logs at INFO to a file), its
    connector `sim` pointing at that simulator;
  - one or more load client processes (smsswitch/loadclient.py): N transceiver binds, each
    with a window of outstanding submit_sm, receipts requested and answered.
It waits until every accepted message has its receipt (or --drain-timeout), then prints ONE
JSON line with the results and the parameters. A human summary goes to stderr.

    .venv/bin/python scripts/bench_e2e.py --binds 4 --window 100 --messages 100000
    .venv/bin/python scripts/bench_e2e.py --carrier-rtt-ms 50 --carrier-sessions 4 \\
        --carrier-window 50 --duration 20
    .venv/bin/python scripts/bench_e2e.py --rate 8000 --duration 300   # RSS flat at 80 %
    .venv/bin/python scripts/bench_e2e.py --profile /tmp/daemon.prof ...  # py-spy, raw stacks
    .venv/bin/python scripts/bench_e2e.py --connector-only --carrier-rtt-ms 50 \
        --carrier-sessions 4 --carrier-window 50 --messages 20000       # window/RTT use

The machine has 2 cores shared by daemon, simulator and client: read the CPU columns and the
load average together with the rates.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smsswitch.harness import DaemonProcess, free_port, write_config  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = ap.add_argument
    add("--binds", type=int, default=4, help="tenant transceiver binds (all processes)")
    add("--window", type=int, default=100, help="outstanding submit_sm per bind")
    add("--messages", type=int, default=20_000, help="submit_sm to send (ignored with --duration)")
    add("--duration", type=float, default=0.0, help="seconds of submitting instead of --messages")
    add("--rate", type=float, default=0.0, help="offered submits/s in all (0 = as fast as windows allow)")
    add("--mix", default="gsm=1", help="message mix, e.g. gsm=0.8,ucs2=0.1,concat3=0.1")
    add("--carrier-rtt-ms", type=float, default=0.0, help="simulator answers submit_sm this late")
    add("--carrier-sessions", type=int, default=2, help="connector sessions (binds) to the carrier")
    add("--carrier-window", type=int, default=50, help="outstanding submit_sm per carrier session")
    add("--carrier-deliver-window", type=int, default=100,
        help="outstanding deliver_sm (receipts) per carrier session, the simulator's window")
    add("--receipt-delay", type=float, default=0.1, help="seconds from carrier accept to its receipt")
    add("--clients", type=int, default=1, help="load client processes (binds are spread over them)")
    add("--tenant-window", type=int, default=0, help="the tenant's window in the daemon (0: = --window)")
    add("--commit-linger", type=float, default=None, help="journal.commit_linger override (seconds)")
    add("--stuck-bind-after", type=float, default=-1.0,
        help="bind 0 of client 0 stops reading after this many seconds (a tenant that stops reading)")
    add("--deliver-timeout", type=float, default=None,
        help="the tenant's deliver_timeout (default: the daemon's, 30 s): how soon a stuck bind's "
             "receipts go to its other binds")
    add("--drain-timeout", type=float, default=60.0, help="after submitting, wait this long for receipts")
    add("--connector-only", action="store_true",
        help="no daemon: one Connector in this process against the simulator, a sink that only "
             "counts (after --sink-delay-ms, a stand-in for the journal commit); measures what the "
             "carrier window/RTT allows")
    add("--sink-delay-ms", type=float, default=0.0, help="with --connector-only: each sink call takes this long")
    add("--profile", metavar="FILE", help="py-spy the daemon for the run; raw stacks to FILE, summary to FILE.txt")
    add("--profile-gil", action="store_true", help="sample only the thread holding the GIL (where CPU goes)")
    add("--profile-native", action="store_true", help="include C frames (LMDB, msgpack) in the profile")
    add("--watch", default="", metavar="NAMES",
        help="comma-separated /metrics sample names to record every --rss-every into WORKDIR/timeline.jsonl "
             "(with --keep), e.g. smsswitch_connector_queue_depth,smsswitch_connector_window_in_use")
    add("--rss-every", type=float, default=1.0, help="sample the daemon's RSS this often (seconds)")
    add("--keep", metavar="DIR", help="run in DIR and keep it (config, journal, logs)")
    add("--pin", action="store_true",
        help="the daemon's main process alone on the first CPU (its `cpus` config), everything else "
             "(journal writer, simulator, load clients, this script) on the others")
    return ap.parse_args(argv)


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        mix[name.strip()] = float(weight or 1)
    unknown = set(mix) - {"gsm", "ucs2", "concat3"}
    if unknown:
        raise SystemExit(f"unknown message kinds in --mix: {sorted(unknown)}")
    return mix


# ---------------------------------------------------------------- /proc


def proc_cpu(pid: int) -> float:
    """utime+stime of `pid` (and its reaped children: none here) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pressure_stalls() -> dict[str, int]:
    """Cumulative stall time (µs) from /proc/pressure: io "full" and cpu "some"; {} without PSI."""
    totals: dict[str, int] = {}
    for resource, kind in (("io", "full"), ("cpu", "some")):
        try:
            with open(f"/proc/pressure/{resource}") as f:
                for line in f:
                    if line.startswith(kind):
                        totals[f"{resource}_{kind}"] = int(line.rsplit("total=", 1)[1])
        except (OSError, ValueError, IndexError):
            pass
    return totals


def _stall_ms(before: dict[str, int], after: dict[str, int], key: str) -> float | None:
    if key not in before or key not in after:
        return None
    return round((after[key] - before[key]) / 1000, 1)


def tenths(samples: list[float]) -> list[float]:
    """The samples at the start of each tenth of the run, rounded to 0.1."""
    step = len(samples) / 10
    return [round(samples[int(i * step)], 1) for i in range(10)]


def sum_over(pids: list[int], measure: Any) -> float:
    """`measure(pid)` summed over the processes of `pids` that are still there."""
    total = 0.0
    for child in pids:
        try:
            total += measure(child)
        except OSError:
            pass  # exited
    return total


def proc_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def proc_rss_anon_mb(pid: int) -> float:
    """Anonymous RSS (heap, stacks): RSS without the LMDB map's file pages, which grow with
    the journal on disk and are the page cache's to drop."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return math.nan


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- clients


class Client:
    """One load client process and its progress lines."""

    def __init__(self, index: int, params: dict[str, Any], workdir: Path) -> None:
        self.index = index
        self.params_path = workdir / f"client{index}.json"
        self.out_path = workdir / f"client{index}.pickle"
        self.err_path = workdir / f"client{index}.stderr"
        self.params_path.write_text(json.dumps(params))
        self.progress: dict[str, Any] = {"sent": 0, "accepted": 0, "receipts": 0, "done": False, "errors": 0}
        err = open(self.err_path, "wb")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smsswitch.loadclient", str(self.params_path), str(self.out_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=ROOT,
        )  # fmt: skip
        err.close()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.progress = json.loads(line)
            except ValueError:
                pass

    def stop(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"stop\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def results(self, timeout: float = 60.0) -> dict[str, Any]:
        self.process.wait(timeout=timeout)
        self._thread.join(timeout=5)
        if self.process.returncode != 0 or not self.out_path.exists():
            raise RuntimeError(f"load client {self.index} failed ({self.process.returncode}):\n"
                               + self.err_path.read_text(errors="replace")[-3000:])
        with open(self.out_path, "rb") as f:
            return pickle.load(f)


# ---------------------------------------------------------------- the run


def cpu_placement(args: argparse.Namespace) -> tuple[list[int], list[int]] | None:
    """With --pin: (the main process's CPU, everyone else's), from what this script may use.
    This script takes the second part at once, so every process it starts inherits it."""
    if not args.pin:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least two CPUs")
    main, rest = cpus[:1], cpus[1:]
    os.sched_setaffinity(0, rest)
    return main, rest


def run(args: argparse.Namespace) -> dict[str, Any]:
    mix = parse_mix(args.mix)
    placement = cpu_placement(args)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="smsswitch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    daemon: DaemonProcess | None = None
    profiler: subprocess.Popen[bytes] | None = None
    clients: list[Client] = []
    try:
        # Carrier simulator, its own process.
        sim_port = free_port()
        sim_log = open(workdir / "simulator.log", "wb")  # noqa: SIM115
        sim = subprocess.Popen(
            [sys.executable, "-m", "smsswitch.carrier.simulator", "--port", str(sim_port),
             "--receipt-delay", str(args.receipt_delay), "--response-delay", str(args.carrier_rtt_ms / 1000),
             "--mix", "DELIVRD=1", "--seed", "1", "--report", "--window", str(args.carrier_deliver_window)],
            stdout=sim_log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        sim_log.close()
        procs.append(sim)
        wait_port(sim_port)

        # The daemon: durable journal (the default), INFO logs to daemon.log.
        tenant_window = args.tenant_window or args.window
        overrides: dict[str, Any] = {
            "simulator": {"enabled": False},
            "connectors": {"sim": {"port": sim_port, "sessions": args.carrier_sessions, "window": args.carrier_window}},
            "tenants": {"demo": {"window": tenant_window, "max_binds": max(10, args.binds)}},
        }  # fmt: skip
        if args.deliver_timeout is not None:
            overrides["tenants"]["demo"]["deliver_timeout"] = args.deliver_timeout
        if args.commit_linger is not None:
            overrides["journal"] = {"commit_linger": args.commit_linger}
        if placement is not None:
            overrides["cpus"] = {"main": placement[0], "journal_writer": placement[1]}
        config = write_config(workdir, overrides)
        daemon = DaemonProcess(config, log_path=workdir / "daemon.log")
        daemon.start()
        assert daemon.process is not None
        pid = daemon.process.pid
        _wait_connector(daemon, args.carrier_sessions)

        if args.profile:
            profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "200",
                 "--format", "raw", "--threads", "--output", args.profile]
                + (["--gil"] if args.profile_gil else [])
                # native stacks need the process paused while sampled (it slows the daemon)
                + (["--native"] if args.profile_native else ["--nonblocking"]),
                stdout=subprocess.DEVNULL, stderr=open(workdir / "py-spy.log", "wb"),  # noqa: SIM115
            )  # fmt: skip
            time.sleep(1.0)

        # Load clients.
        n_clients = max(1, min(args.clients, args.binds))
        load_avg_start = os.getloadavg()
        stalls0 = pressure_stalls()
        cpu0 = proc_cpu(pid)
        writers = daemon.writer_pids()  # the journal writer process
        writer_cpu0 = sum_over(writers, proc_cpu)
        writer_anon: list[float] = [sum_over(writers, proc_rss_anon_mb)]
        split0 = proc_cpu_split(pid)
        sim_cpu0 = proc_cpu(sim.pid)
        rss_samples: list[tuple[float, float]] = [(0.0, proc_rss_mb(pid))]
        anon_samples: list[float] = [proc_rss_anon_mb(pid)]
        t0 = time.monotonic()
        for i in range(n_clients):
            binds = args.binds // n_clients + (1 if i < args.binds % n_clients else 0)
            share = binds / args.binds
            params = {
                "port": daemon.smpp_port, "binds": binds, "window": args.window,
                "messages": 0 if args.duration else round(args.messages * share),
                "duration": args.duration, "rate": args.rate * share, "mix": mix, "seed": i + 1,
                "client_index": i, "stop_reading_after": args.stuck_bind_after if i == 0 else -1.0,
                "destination_base": 263771000000 + i * 100_000,
            }  # fmt: skip
            clients.append(Client(i, params, workdir))

        # Wait: submit phase over everywhere, then every accepted message receipted (or timeout).
        submit_end: float | None = None
        next_rss = t0 + args.rss_every
        #: (seconds since t0, submit_sm the connector sent) while the clients submit.
        carrier_sent: list[tuple[float, float]] = []
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            if now >= next_rss:
                rss_samples.append((now - t0, proc_rss_mb(pid)))
                anon_samples.append(proc_rss_anon_mb(pid))
                writer_anon.append(sum_over(writers, proc_rss_anon_mb))
                if args.watch:
                    _watch(daemon, args.watch.split(","), now - t0, [c.progress for c in clients], workdir)
                if submit_end is None:
                    carrier_sent.append((now - t0, _metric(daemon, "smsswitch_connector_submits_total", connector="sim")))
                next_rss += args.rss_every
            if daemon.process.poll() is not None:
                raise RuntimeError(f"daemon exited:\n{daemon.log_tail()}")
            progress = [c.progress for c in clients]
            if any(c.process.poll() is not None for c in clients):
                break  # a client died (error) - collect what it has
            if submit_end is None and all(p["done"] for p in progress):
                submit_end = now
            if submit_end is not None:
                accepted = sum(p["accepted"] for p in progress)
                receipts = sum(p["receipts"] for p in progress)
                sent = sum(p["sent"] for p in progress)
                answered = accepted + sum(p.get("refused", 0) for p in progress)
                # The stuck bind's last submits stay unanswered, but the switch accepted them:
                # their receipts reach the other binds as ids no client knows ("unknown"), and
                # count in `receipts` beside the known ones. Wait for both, or the drain ends
                # while known receipts are still on their way (they then looked "lost").
                unanswered = sent - answered if args.stuck_bind_after >= 0 else 0
                if (answered >= sent or unanswered) and receipts >= accepted + unanswered:
                    break
                if now - submit_end > args.drain_timeout:
                    break
        t_end = time.monotonic()
        cpu1 = proc_cpu(pid)
        writer_cpu1 = sum_over(writers, proc_cpu)
        writer_anon.append(sum_over(writers, proc_rss_anon_mb))
        split1 = proc_cpu_split(pid)
        sim_cpu1 = proc_cpu(sim.pid)
        rss_end = proc_rss_mb(pid)
        anon_end = proc_rss_anon_mb(pid)
        load_avg_end = os.getloadavg()
        stalls1 = pressure_stalls()
        for c in clients:
            c.stop()
        results = [c.results() for c in clients]
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        journal = _journal_metrics(daemon, workdir)
        daemon_exit = daemon.stop(timeout=60)
    finally:
        for c in clients:
            if c.process.poll() is None:
                c.process.kill()
        if profiler is not None and profiler.poll() is None:
            profiler.kill()
        if daemon is not None:
            daemon.close()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        sim_stats = _simulator_stats(workdir / "simulator.log")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    out = summarise(results, args, mix)
    out.update(carrier_steady(carrier_sent, (submit_end or t_end) - t0, args))
    # How late the simulator sent its delayed answers, on average: with --carrier-rtt-ms this
    # much of carrier_response_ms_avg is the test carrier's, not the switch's.
    out["simulator_answer_late_ms_avg"] = sim_stats.get("delayed_answers_late_ms_avg")
    out.update(
        daemon_cpu_s=round(cpu1 - cpu0, 2),
        daemon_cpu_pct=round(100 * (cpu1 - cpu0) / max(1e-9, t_end - t0), 1),
        daemon_user_s=round(split1[0] - split0[0], 2),
        daemon_sys_s=round(split1[1] - split0[1], 2),
        daemon_cpu_us_per_msg=round(1e6 * (cpu1 - cpu0) / max(1, out["accepted"])),
        daemon_rss_mb=round(rss_end, 1),
        daemon_rss_start_mb=round(rss_samples[0][1], 1),
        daemon_rss_max_mb=round(max(r for _, r in rss_samples + [(0, rss_end)]), 1),
        daemon_rss_anon_mb=round(anon_end, 1),
        daemon_rss_anon_start_mb=round(anon_samples[0], 1),
        daemon_rss_anon_max_mb=round(max(anon_samples + [anon_end]), 1),
        writer_processes=len(writers),
        writer_cpu_s=round(writer_cpu1 - writer_cpu0, 2),
        writer_rss_anon_start_mb=round(writer_anon[0], 1),
        writer_rss_anon_mb=round(writer_anon[-1], 1),
        writer_rss_anon_max_mb=round(max(writer_anon), 1),
        writer_cpu_us_per_msg=round(1e6 * (writer_cpu1 - writer_cpu0) / max(1, out["accepted"])),
        simulator_cpu_s=round(sim_cpu1 - sim_cpu0, 2),
        client_cpu_s=round(sum(r["cpu_s"] for r in results), 2),
        wall_s=round(t_end - t0, 2),
        journal=journal,
        daemon_exit=daemon_exit,
        load_avg_start=round(load_avg_start[0], 2),
        load_avg_end=round(load_avg_end[0], 2),
        # Time every task was stalled on I/O (e.g. a slow fsync on this VM's shared disk)
        # and some task waited for a CPU, during the run: a run with a long I/O stall has
        # an outside cause. None where the kernel has no pressure accounting.
        io_full_stall_ms=_stall_ms(stalls0, stalls1, "io_full"),
        cpu_some_stall_ms=_stall_ms(stalls0, stalls1, "cpu_some"),
        nproc=os.cpu_count(),
    )
    # Everything on the machine's cores, per accepted message: daemon + writer + simulator + client.
    out["all_cpu_us_per_msg"] = round(
        1e6 * (out["daemon_cpu_s"] + out["writer_cpu_s"] + out["simulator_cpu_s"] + out["client_cpu_s"])
        / max(1, out["accepted"])
    )
    if len(rss_samples) > 10:
        # RSS over the run, in tenths: flat means the later tenths stay near the second.
        out["daemon_rss_tenths_mb"] = tenths([mb for _, mb in rss_samples])
        out["daemon_rss_anon_tenths_mb"] = tenths(anon_samples)
        if len(writer_anon) > 10:
            out["writer_rss_anon_tenths_mb"] = tenths(writer_anon)
    if args.profile:
        out["profile"] = args.profile
        summary = summarise_profile(Path(args.profile))
        Path(args.profile + ".txt").write_text(summary)
    return out


def carrier_steady(samples: list[tuple[float, float]], submit_s: float, args: argparse.Namespace) -> dict[str, Any]:
    """The connector's submit_sm rate in the steady part of the submit phase (its first fifth,
    the ramp-up, left out), and with a carrier RTT its share of sessions x window / RTT: the
    window target measured on the whole path, without the receipt tail that end_to_end_per_s
    includes. None when the phase was too short for two samples (one per --rss-every)."""
    steady = [(t, n) for t, n in samples if t >= 0.2 * submit_s and not math.isnan(n)]
    rate = None
    if len(steady) >= 2 and steady[-1][0] > steady[0][0]:
        rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
    bound = window_rtt_bound(args)
    return {
        "carrier_steady_per_s": round(rate) if rate is not None else None,
        "carrier_window_rtt_bound_per_s": round(bound) if bound else None,
        "carrier_window_utilisation": round(rate / bound, 3) if rate is not None and bound else None,
    }


def window_rtt_bound(args: argparse.Namespace) -> float | None:
    """What the connector can carry at most: sessions x window per carrier RTT (None at RTT 0)."""
    rtt = args.carrier_rtt_ms / 1000
    return args.carrier_sessions * args.carrier_window / rtt if rtt else None


def _simulator_stats(log_path: Path) -> dict[str, Any]:
    """The JSON counters the simulator prints when it stops (the last line of its log)."""
    try:
        lines = log_path.read_bytes().splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        if line.startswith(b"{"):
            try:
                return json.loads(line)
            except ValueError:
                return {}
    return {}


def _wait_connector(daemon: DaemonProcess, sessions: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _metric(daemon, "smsswitch_connector_sessions_bound", connector="sim") >= sessions:
            return
        time.sleep(0.1)
    raise TimeoutError(f"connector sim did not bind {sessions} sessions:\n{daemon.log_tail()}")


def _watch(daemon: DaemonProcess, names: list[str], at: float, progress: list[dict], workdir: Path) -> None:
    """One line of the timeline: the named metrics (summed over labels) and the clients' counts."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = daemon.metrics()
    except Exception:  # noqa: BLE001
        return
    row: dict[str, Any] = {"t": round(at, 2)}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                row[sample.name] = row.get(sample.name, 0) + sample.value
    for key in ("accepted", "receipts"):
        row[key] = sum(p.get(key, 0) for p in progress)
    with open(workdir / "timeline.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def _journal_metrics(daemon: DaemonProcess, workdir: Path) -> dict[str, Any]:
    """Group-commit figures (and the carrier's mean response time) from /metrics (the whole
    text is kept in workdir/metrics.txt)."""
    try:
        text = daemon.metrics()
    except Exception:  # noqa: BLE001
        return {}
    (workdir / "metrics.txt").write_text(text)
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(("smsswitch_journal_", "smsswitch_accept_latency")) and not sample.labels:
                values[sample.name] = sample.value
            elif sample.name.startswith("smsswitch_connector_response_latency_seconds_"):
                values[sample.name] = values.get(sample.name, 0.0) + sample.value  # all connectors
    commits = values.get("smsswitch_journal_commits_total", 0.0)
    ops = values.get("smsswitch_journal_ops_committed_total", 0.0)
    lat_sum = values.get("smsswitch_journal_commit_latency_seconds_sum", math.nan)
    lat_n = values.get("smsswitch_journal_commit_latency_seconds_count", 0.0)
    acc_sum = values.get("smsswitch_accept_latency_seconds_sum", math.nan)
    acc_n = values.get("smsswitch_accept_latency_seconds_count", 0.0)
    resp_sum = values.get("smsswitch_connector_response_latency_seconds_sum", math.nan)
    resp_n = values.get("smsswitch_connector_response_latency_seconds_count", 0.0)
    return {
        "commits": int(commits),
        "ops_per_commit": round(ops / commits, 1) if commits else None,
        "commit_ms_avg": round(1000 * lat_sum / lat_n, 2) if lat_n else None,
        "accept_ms_avg": round(1000 * acc_sum / acc_n, 2) if acc_n else None,
        # submit_sm written -> its response read, as the daemon's connector sees it
        "carrier_response_ms_avg": round(1000 * resp_sum / resp_n, 2) if resp_n else None,
    }


def _metric(daemon: DaemonProcess, name: str, **labels: str) -> float:
    try:
        return daemon.metric(name, **labels)
    except Exception:  # noqa: BLE001 - a metric is a nicety here
        return math.nan


def summarise(results: list[dict[str, Any]], args: argparse.Namespace, mix: dict[str, float]) -> dict[str, Any]:
    sent_at: dict[str, float] = {}
    for r in results:
        sent_at.update(r["sent_at"])
    accepted = sum(r["accepted"] for r in results)
    latencies = [x for r in results for x in r["resp_latency"]]
    seen: set[str] = set()
    duplicates = unknown = 0
    e2e: list[float] = []
    for r in results:
        for rid, at in zip(r["receipt_ids"], r["receipt_at"]):
            started = sent_at.get(rid)
            if started is None:
                unknown += 1
            elif rid in seen:
                duplicates += 1
            else:
                seen.add(rid)
                e2e.append(at - started)
    first_send = min(r["first_send"] for r in results)
    last_resp = max(r["last_resp"] for r in results)
    first_receipt = min(r["first_receipt"] for r in results)
    last_receipt = max(r["last_receipt"] for r in results)
    refused: Counter[str] = Counter()
    for r in results:
        for status, n in r["refused"].items():
            refused[f"0x{status:08X}"] += n
    receipts = len(seen)
    submit_span = max(1e-9, last_resp - first_send)
    receipt_span = max(1e-9, last_receipt - first_receipt) if receipts else math.nan
    return {
        "accepted_per_s": round(accepted / submit_span),
        "submit_resp_p50_ms": round(1000 * percentile(latencies, 0.50), 2),
        "submit_resp_p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "receipts_per_s": round(receipts / receipt_span) if receipts else 0,
        "end_to_end_per_s": round(receipts / max(1e-9, last_receipt - first_send)) if receipts else 0,
        "receipt_completeness": round(receipts / accepted, 6) if accepted else 0.0,
        "submit_to_receipt_p50_ms": round(1000 * percentile(e2e, 0.50), 1),
        "submit_to_receipt_p99_ms": round(1000 * percentile(e2e, 0.99), 1),
        "lost": accepted - receipts,
        "duplicates": duplicates,
        "unknown_receipts": unknown,
        "sent": sum(r["sent"] for r in results),
        "accepted": accepted,
        "refused": dict(refused),
        "client_errors": [e for r in results for e in r["errors"]][:5],
        "submit_s": round(submit_span, 2),
        "params": {
            "binds": args.binds, "window": args.window, "messages": None if args.duration else args.messages,
            "duration": args.duration or None, "rate": args.rate or None, "mix": mix,
            "carrier_rtt_ms": args.carrier_rtt_ms, "carrier_sessions": args.carrier_sessions,
            "carrier_window": args.carrier_window, "carrier_deliver_window": args.carrier_deliver_window,
            "receipt_delay": args.receipt_delay, "clients": args.clients,
            "journal": "lmdb, fsync per group commit",
            "pinned": "main alone on the first CPU, the rest on the others" if args.pin else None,
        },  # fmt: skip
    }


def summarise_profile(path: Path, top: int = 40) -> str:
    """py-spy raw (collapsed) stacks -> the functions with most self and inclusive samples."""
    self_: Counter[str] = Counter()
    total: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    samples = 0
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        return f"no profile: {exc}\n"
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [f for f in stack.split(";") if f]
        # drop the thread/process header frame py-spy puts first
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        self_[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            total[frame] += n
        tasks[_task_of(frames)] += n
    out = [f"{samples} samples\n", "\nby task (first smsswitch frame that is not a wrapper) %\n"]
    for name, n in tasks.most_common(top):
        out.append(f"{100 * n / samples:6.1f}  {name}\n")
    out.append("\nself %   function\n")
    for name, n in self_.most_common(top):
        out.append(f"{100 * n / samples:6.1f}  {name}\n")
    out.append("\ninclusive %   function\n")
    for name, n in total.most_common(top * 2):
        out.append(f"{100 * n / samples:6.1f}  {name}\n")
    return "".join(out)


_WRAPPERS = {"_guarded", "_guard", "run", "_handle", "_connect_and_serve", "main", "<module>", "_cmd_run",
             "run_daemon", "_start", "serve"}


def _task_of(frames: list[str]) -> str:
    """Which long-lived task (or thread) a sample belongs to."""
    ours = [f for f in frames if "smsswitch/" in f and "smsswitch/cli.py" not in f]
    for frame in ours:
        if frame.split(" (")[0].rsplit(".", 1)[-1] not in _WRAPPERS:
            return _short(frame)
    if ours:
        return _short(ours[-1])
    return "trio/other: " + _short(frames[-1]) if frames else "?"


def _short(frame: str) -> str:
    """'func (path/to/file.py:123)' -> 'func (file.py)' so lines of one function add up."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


def run_connector_only(args: argparse.Namespace) -> dict[str, Any]:
    """The connector alone against the simulator process: submits/s vs sessions*window/RTT."""
    import logging

    import structlog
    import trio

    from smsswitch.carrier.api import SubmitJob
    from smsswitch.carrier.connector import Connector
    from smsswitch.config import ConnectorConfig
    from smsswitch.smpp.pdu import SubmitSm

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    delay = args.sink_delay_ms / 1000

    class Sink:
        results = delivers = calls = 0

        async def submits_sent(self, connector: str, jobs: list) -> None:
            pass

        async def submit_results(self, connector: str, results: list) -> None:
            await trio.sleep(delay)
            Sink.results += len(results)
            Sink.calls += 1

        async def carrier_delivers(self, connector: str, pdus: list) -> list[int]:
            await trio.sleep(delay)
            Sink.delivers += len(pdus)
            Sink.calls += 1
            return [0] * len(pdus)

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "smsswitch.carrier.simulator", "--port", str(port), "--receipt-delay",
         str(args.receipt_delay), "--response-delay", str(args.carrier_rtt_ms / 1000), "--mix", "DELIVRD=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    out: dict[str, Any] = {}

    async def go() -> None:
        config = ConnectorConfig(
            name="bench", host="127.0.0.1", port=port, system_id="sim", password="simpass",
            sessions=args.carrier_sessions, window=args.carrier_window,
        )  # fmt: skip
        connector = Connector(config, Sink(), queue_size=args.messages + 1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connector.run)
            while connector.health().sessions_bound < len(connector.links):
                await trio.sleep(0.01)
            load0 = os.getloadavg()[0]
            for i in range(args.messages):
                pdu = SubmitSm(source_addr="BENCH", destination_addr=f"26377{i:07d}", registered_delivery=1,
                               short_message=b"benchmark message text")  # fmt: skip
                connector.try_submit(SubmitJob(f"m{i}", pdu))
            started = time.perf_counter()
            cpu = time.process_time()
            while Sink.results < args.messages:
                await trio.sleep(0.002)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            health = connector.health()
            bound = window_rtt_bound(args)
            out.update(
                submits_per_s=round(args.messages / elapsed),
                window_rtt_bound_per_s=round(bound) if bound else None,
                utilisation=round(args.messages / elapsed / bound, 3) if bound else None,
                mean_response_ms=round(1000 * health.latency_sum / max(1, health.latency_count), 1),
                sink_calls=Sink.calls, connector_cpu_us_per_msg=round(1e6 * cpu / args.messages, 1),
                load_avg_start=round(load0, 2), load_avg_end=round(os.getloadavg()[0], 2), nproc=os.cpu_count(),
                params={"messages": args.messages, "carrier_rtt_ms": args.carrier_rtt_ms,
                        "carrier_sessions": args.carrier_sessions, "carrier_window": args.carrier_window,
                        "sink_delay_ms": args.sink_delay_ms, "connector_only": True},
            )  # fmt: skip
            await connector.stop(0.5)
            nursery.cancel_scope.cancel()

    try:
        wait_port(port)
        trio.run(go)
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.connector_only:
        out = run_connector_only(args)
        print(json.dumps(out), flush=True)
        return 0
    out = run(args)
    print(json.dumps(out), flush=True)
    print(
        f"accepted {out['accepted_per_s']}/s  resp p50 {out['submit_resp_p50_ms']} ms p99 {out['submit_resp_p99_ms']} ms"
        f"  receipts {out['receipts_per_s']}/s  complete {out['receipt_completeness']}  lost {out['lost']}"
        f"  dup {out['duplicates']}  daemon cpu {out['daemon_cpu_s']} s ({out['daemon_cpu_pct']} %)"
        f" + writer {out['writer_cpu_s']} s  all {out['all_cpu_us_per_msg']} us/msg"
        f"  rss {out['daemon_rss_mb']} MB  load {out['load_avg_start']}->{out['load_avg_end']}",
        file=sys.stderr,
    )  # fmt: skip
    return 0 if out["lost"] == 0 and not out["client_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
