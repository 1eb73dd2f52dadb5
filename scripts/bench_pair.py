#!/usr/bin/env python3
"""Paired benchmark: another revision's daemon against this tree's, interleaved.

    .venv/bin/python scripts/bench_pair.py 0ec2a09 --pairs 3 -- --messages 60000 --binds 8 --window 100

The machines here are shared VMs whose speed drifts by up to a third within minutes, so two
numbers measured at different times do not compare. This runs scripts/bench_e2e.py (the
arguments after `--`) alternately on REV and on this working tree, `--pairs` times, and
reports each pair and the median of the per-pair ratios. REV is checked out in a temporary
git worktree; only its daemon differs (the bench starts the daemon in the current directory,
and the simulator and load client from this tree), so the comparison is the switch's alone;
REV's daemon must accept the config this tree's bench writes. Prints one JSON line with every
run, then a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench_e2e.py"
#: What each row shows: end to end first (the target), then latency and CPU per message.
FIELDS = (
    "end_to_end_per_s", "accepted_per_s", "submit_resp_p50_ms", "submit_resp_p99_ms",
    "daemon_cpu_us_per_msg", "writer_cpu_us_per_msg", "all_cpu_us_per_msg",
)  # fmt: skip


def split_bench_args(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """(this script's arguments, bench_e2e's: those after `--`)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv, bench_args = split_bench_args(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the revision to compare against (commit, tag, branch)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs of runs")
    return parser.parse_args(argv), bench_args


def run_once(cwd: Path, bench_args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), *bench_args], cwd=cwd, capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench_e2e failed in {cwd} (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def summarise(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Medians per side and the median of the per-pair ratios (this tree / REV)."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        theirs = [a.get(field) for a, _ in pairs]
        ours = [b.get(field) for _, b in pairs]
        ratios = [o / t for t, o in zip(theirs, ours) if t and o is not None]
        out[field] = {
            "rev_median": round(statistics.median([t for t in theirs if t is not None] or [0]), 2),
            "this_median": round(statistics.median([o for o in ours if o is not None] or [0]), 2),
            "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    args, bench_args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smsswitch-pair-") as tmp:
        worktree = Path(tmp) / "rev"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.rev],
                       check=True, capture_output=True)  # fmt: skip
        try:
            pairs = []
            for _ in range(args.pairs):
                pairs.append((run_once(worktree, bench_args), run_once(ROOT, bench_args)))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           check=False, capture_output=True)  # fmt: skip
    summary = summarise(pairs)
    print(json.dumps({"rev": args.rev, "bench_args": bench_args, "summary": summary,
                      "pairs": [{"rev": a, "this": b} for a, b in pairs]}), flush=True)  # fmt: skip
    print(f"{'':28}{args.rev[:12]:>14}{'this tree':>14}{'ratio':>8}", file=sys.stderr)
    for field in FIELDS:
        s = summary[field]
        ratio = "" if s["median_ratio"] is None else f"{s['median_ratio']:.3f}"
        print(f"{field:28}{s['rev_median']:>14}{s['this_median']:>14}{ratio:>8}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
