"""`smsswitch status`: a live terminal view of a running daemon, read from its /metrics.

It reads only the Prometheus text the daemon already exports (no second API to keep true),
groups the `smsswitch_*` series by what an operator asks first — binds, connectors, queues,
latencies — and shows rates as the difference between two refreshes.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def fetch(url: str, timeout: float = 5.0) -> Samples:
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("smsswitch_"):
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for (metric, labels), value in samples.items():
        if metric == name:
            out[dict(labels).get(label, "")] += value
    return dict(out)


def _rate(now: Samples, before: Samples | None, name: str, label: str, seconds: float) -> dict[str, float]:
    current = _by(now, name, label)
    if not before or seconds <= 0:
        return {key: 0.0 for key in current}
    previous = _by(before, name, label)
    return {key: max(0.0, value - previous.get(key, 0.0)) / seconds for key, value in current.items()}


def _quantile_ms(samples: Samples, name: str, q: float) -> float | None:
    """Approximate quantile from a histogram's cumulative buckets (all labels summed)."""
    buckets: dict[float, float] = defaultdict(float)
    for (metric, labels), value in samples.items():
        if metric == name + "_bucket":
            le = dict(labels)["le"]
            buckets[float("inf") if le == "+Inf" else float(le)] += value
    if not buckets:
        return None
    total = buckets.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound * 1000 if bound != float("inf") else None
    return None


def render(now: Samples, before: Samples | None, seconds: float) -> str:
    lines = []
    binds = _by(now, "smsswitch_binds", "tenant")
    submit_rate = _rate(now, before, "smsswitch_submits_total", "tenant", seconds)
    lines.append("TENANT               BINDS   SUBMITS/S   OUTBOX")
    outbox = _by(now, "smsswitch_outbox_depth", "tenant")
    for tenant in sorted(set(binds) | set(submit_rate) | set(outbox)):
        lines.append(
            f"{tenant or '-':<20} {binds.get(tenant, 0):>5.0f} {submit_rate.get(tenant, 0):>11.1f} {outbox.get(tenant, 0):>8.0f}"
        )
    lines.append("")
    lines.append("CONNECTOR            BOUND  WINDOW   QUEUE   SUBMITS/S  RECEIPTS/S  RECONNECTS")
    bound = _by(now, "smsswitch_connector_sessions_bound", "connector")
    window = _by(now, "smsswitch_connector_window_in_use", "connector")
    queue = _by(now, "smsswitch_connector_queue_depth", "connector")
    sub_rate = _rate(now, before, "smsswitch_connector_submits_total", "connector", seconds)
    dlr_rate = _rate(now, before, "smsswitch_connector_receipts_total", "connector", seconds)
    reconnects = _by(now, "smsswitch_connector_reconnects_total", "connector")
    for name in sorted(set(bound) | set(queue) | set(sub_rate)):
        lines.append(
            f"{name:<20} {bound.get(name, 0):>5.0f} {window.get(name, 0):>7.0f} {queue.get(name, 0):>7.0f}"
            f" {sub_rate.get(name, 0):>11.1f} {dlr_rate.get(name, 0):>11.1f} {reconnects.get(name, 0):>11.0f}"
        )
    lines.append("")
    for label, metric in (
        ("accept latency", "smsswitch_accept_latency_seconds"),
        ("carrier response", "smsswitch_connector_response_latency_seconds"),
        ("journal commit", "smsswitch_journal_commit_latency_seconds"),
    ):
        p50, p99 = _quantile_ms(now, metric, 0.5), _quantile_ms(now, metric, 0.99)
        if p50 is not None:
            lines.append(f"{label:<18} p50 ≤ {p50:g} ms   p99 ≤ {p99 if p99 is not None else float('nan'):g} ms")
    return "\n".join(lines)


def status_command(args: argparse.Namespace) -> int:
    url = args.url
    if args.config:
        from smsswitch.config_load import load_config

        http = load_config(args.config).http
        url = f"http://{http.host}:{http.port}"
    before: Samples | None = None
    then = time.monotonic()
    try:
        while True:
            try:
                now = fetch(url)
            except (urllib.error.URLError, OSError) as exc:
                print(f"cannot read {url}/metrics: {exc}", file=sys.stderr)
                return 4
            moment = time.monotonic()
            text = render(now, before, moment - then)
            if args.once:
                print(text)
                return 0
            sys.stdout.write("\x1b[2J\x1b[H" + f"smsswitch status — {url} — every {args.interval:g}s (Ctrl-C to quit)\n\n" + text + "\n")
            sys.stdout.flush()
            before, then = now, moment
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
