#!/usr/bin/env python3
"""Regenerate config/grafana-dashboard.json from the metric names the daemon exports.

The dashboard is data, but written by hand it drifts from the code; tests/daemon checks that
every metric it queries is one smsswitch.metrics actually exports.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "config" / "grafana-dashboard.json"

# (title, unit, [(expr, legend)], panel type)
PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("Accepted submits / s by tenant", "ops", [("sum by (tenant) (rate(smsswitch_submits_total{status=\"ESME_ROK\"}[1m]))", "{{tenant}}")], "timeseries"),
    ("Refused submits / s by status", "ops", [("sum by (status) (rate(smsswitch_server_submit_answers_total{status!=\"ESME_ROK\"}[1m]))", "{{status}}")], "timeseries"),
    ("Carrier submits / s by connector", "ops", [("sum by (connector) (rate(smsswitch_connector_submits_total[1m]))", "{{connector}}")], "timeseries"),
    ("Carrier responses / s by status", "ops", [("sum by (connector, status) (rate(smsswitch_connector_responses_total[1m]))", "{{connector}} {{status}}")], "timeseries"),
    ("Receipts from carriers / s", "ops", [("sum by (connector) (rate(smsswitch_connector_receipts_total[1m]))", "{{connector}}")], "timeseries"),
    ("Carrier response latency", "s", [
        ("histogram_quantile(0.5, sum by (le, connector) (rate(smsswitch_connector_response_latency_seconds_bucket[5m])))", "p50 {{connector}}"),
        ("histogram_quantile(0.99, sum by (le, connector) (rate(smsswitch_connector_response_latency_seconds_bucket[5m])))", "p99 {{connector}}"),
    ], "timeseries"),
    ("Accept latency (submit → durable)", "s", [
        ("histogram_quantile(0.5, sum by (le) (rate(smsswitch_accept_latency_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(smsswitch_accept_latency_seconds_bucket[5m])))", "p99"),
    ], "timeseries"),
    ("Submit → receipt", "s", [
        ("histogram_quantile(0.5, sum by (le) (rate(smsswitch_submit_to_receipt_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(smsswitch_submit_to_receipt_seconds_bucket[5m])))", "p99"),
    ], "timeseries"),
    ("Tenant binds", "short", [("sum by (tenant, bind_type) (smsswitch_binds)", "{{tenant}} {{bind_type}}")], "timeseries"),
    ("Carrier sessions bound", "short", [("smsswitch_connector_sessions_bound", "{{connector}} bound"), ("smsswitch_connector_sessions_configured", "{{connector}} configured")], "timeseries"),
    ("Carrier window in use", "short", [("smsswitch_connector_window_in_use", "{{connector}} in use"), ("smsswitch_connector_window_capacity", "{{connector}} capacity")], "timeseries"),
    ("Queues", "short", [("smsswitch_connector_queue_depth", "{{connector}} queue"), ("smsswitch_outbox_depth", "outbox {{tenant}}")], "timeseries"),
    ("Journal commits / s and ops / s", "ops", [("rate(smsswitch_journal_commits_total[1m])", "commits"), ("rate(smsswitch_journal_ops_committed_total[1m])", "ops")], "timeseries"),
    ("Journal commit latency (write + fsync)", "s", [
        ("histogram_quantile(0.5, sum by (le) (rate(smsswitch_journal_commit_latency_seconds_bucket[5m])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(smsswitch_journal_commit_latency_seconds_bucket[5m])))", "p99"),
    ], "timeseries"),
    ("Journal size", "bytes", [("smsswitch_journal_size_bytes", "used"), ("smsswitch_journal_map_bytes", "map")], "timeseries"),
    ("Reconnects and bind failures / min", "short", [("sum by (connector) (increase(smsswitch_connector_reconnects_total[1m]))", "reconnects {{connector}}"), ("sum by (connector) (increase(smsswitch_connector_bind_failures_total[1m]))", "bind failures {{connector}}")], "timeseries"),
    ("Reloads", "short", [("smsswitch_reloads_total", "{{result}}")], "stat"),
]


def build() -> dict:
    panels = []
    for index, (title, unit, targets, kind) in enumerate(PANELS):
        panels.append(
            {
                "id": index + 1,
                "type": kind,
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"expr": expr, "legendFormat": legend, "refId": chr(ord("A") + n)}
                    for n, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "title": "smsswitch",
        "uid": "smsswitch",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "tags": ["smsswitch", "smpp"],
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "panels": panels,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {OUT}")
