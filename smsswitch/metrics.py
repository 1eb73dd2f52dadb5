"""Prometheus metrics, read from the components at scrape time.

The hot path only bumps plain ints in each component's own stats object (no prometheus-client
call, lock or label lookup per message). This collector turns those snapshots into metric
families when /metrics is scraped, so a scrape costs work proportional to the number of
tenants and connectors, never to traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from smsswitch.smpp.constants import CommandStatus


def _status_label(status: int | str) -> str:
    if isinstance(status, str):
        return status
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class SwitchCollector(Collector):
    """Builds every smsswitch_* family from the live components the daemon registers."""

    def __init__(self) -> None:
        self.server: Any = None
        self.switch: Any = None
        self.journal: Any = None
        self.connectors: Callable[[], Iterable[Any]] = lambda: ()
        self.reloads: dict[str, int] = {"ok": 0, "failed": 0}
        self.last_reload_hash = ""

    def collect(self) -> Iterator[Metric]:
        yield from self._server()
        yield from self._connectors()
        yield from self._switch()
        yield from self._journal()
        reloads = CounterMetricFamily("smsswitch_reloads", "SIGHUP reloads by result", labels=["result"])
        for result, count in self.reloads.items():
            reloads.add_metric([result], count)
        yield reloads

    # ------------------------------------------------------------------ server

    def _server(self) -> Iterator[Metric]:
        if self.server is None:
            return
        stats = self.server.stats()
        binds = GaugeMetricFamily("smsswitch_binds", "Bound tenant sessions", labels=["tenant", "bind_type"])
        for tenant, by_type in (stats.get("binds") or {}).items():
            for bind_type, count in by_type.items():
                binds.add_metric([tenant, bind_type], count)
        yield binds
        yield GaugeMetricFamily("smsswitch_connections", "Open tenant TCP connections", value=stats.get("connections", 0))
        refusals = CounterMetricFamily("smsswitch_bind_refusals", "Refused connections and binds", labels=["reason"])
        for reason, count in (stats.get("refusals") or {}).items():
            refusals.add_metric([reason], count)
        yield refusals
        pdu_refusals = CounterMetricFamily("smsswitch_pdu_refusals", "PDUs refused by the session machine", labels=["status"])
        for status, count in (stats.get("pdu_refusals") or {}).items():
            pdu_refusals.add_metric([_status_label(status)], count)
        yield pdu_refusals
        answers = CounterMetricFamily("smsswitch_server_submit_answers", "Submit answers sent to tenants", labels=["status"])
        for status, count in (stats.get("submits") or {}).items():
            answers.add_metric([_status_label(status)], count)
        yield answers
        deliveries = CounterMetricFamily("smsswitch_tenant_deliveries", "deliver_sm to tenants by outcome", labels=["outcome"])
        for outcome, count in (stats.get("deliveries") or {}).items():
            deliveries.add_metric([outcome], count)
        yield deliveries

    # ------------------------------------------------------------------ connectors

    def _connectors(self) -> Iterator[Metric]:
        healths = [connector.health() for connector in self.connectors()]
        gauges = {
            "sessions_bound": "Carrier sessions bound",
            "sessions_configured": "Carrier sessions configured",
            "window_in_use": "submit_sm awaiting a response",
            "window_capacity": "Window capacity over bound sessions",
            "queue_depth": "Jobs waiting for a window slot",
        }
        for field, help_text in gauges.items():
            family = GaugeMetricFamily(f"smsswitch_connector_{field}", help_text, labels=["connector"])
            for health in healths:
                family.add_metric([health.name], getattr(health, field))
            yield family
        counters = {
            "submits": ("submits_sent", "submit_sm written to the carrier"),
            "accepted": ("accepted", "submit_sm answered ESME_ROK"),
            "rejected": ("rejected", "submit_sm refused permanently"),
            "gave_up": ("gave_up", "Jobs that exhausted their attempts"),
            "retries": ("retries", "Jobs retried after a transient failure"),
            "throttled": ("throttled", "ESME_RTHROTTLED / ESME_RMSGQFUL answers"),
            "timeouts": ("timeouts", "submit_sm without a response in time"),
            "receipts": ("receipts", "Delivery receipts received"),
            "mo": ("mo", "MO messages received"),
            "reconnects": ("reconnects", "Session reconnects"),
            "bind_failures": ("bind_failures", "Refused or failed binds"),
        }
        for name, (field, help_text) in counters.items():
            family = CounterMetricFamily(f"smsswitch_connector_{name}", help_text, labels=["connector"])
            for health in healths:
                family.add_metric([health.name], getattr(health, field))
            yield family
        responses = CounterMetricFamily(
            "smsswitch_connector_responses", "submit_sm_resp by status", labels=["connector", "status"]
        )
        latency = HistogramMetricFamily(
            "smsswitch_connector_response_latency_seconds", "submit_sm to submit_sm_resp", labels=["connector"]
        )
        for health in healths:
            for status, count in health.responses_by_status.items():
                responses.add_metric([health.name, _status_label(status)], count)
            buckets = [(str(bound), count) for bound, count in health.latency_buckets]
            buckets.append(("+Inf", health.latency_count))
            latency.add_metric([health.name], buckets, sum_value=health.latency_sum)
        yield responses
        yield latency

    # ------------------------------------------------------------------ core

    def _switch(self) -> Iterator[Metric]:
        if self.switch is None:
            return
        stats = self.switch.stats()
        submits = CounterMetricFamily("smsswitch_submits", "Tenant submits by tenant and status", labels=["tenant", "status"])
        for key, count in (stats.get("submits") or {}).items():
            tenant, _, status = key.partition("/")
            submits.add_metric([tenant, _status_label(int(status)) if status.isdigit() else status], count)
        yield submits
        results = CounterMetricFamily(
            "smsswitch_carrier_results", "Final submit outcomes by connector", labels=["connector", "outcome"]
        )
        for key, count in (stats.get("carrier_results") or {}).items():
            connector, _, outcome = key.partition("/")
            results.add_metric([connector, outcome], count)
        yield results
        for name, key, label, help_text in (
            ("smsswitch_messages_final", "final_states", "state", "Messages that reached a final state"),
            ("smsswitch_receipts_in", "receipts_in", "kind", "Carrier receipts by correlation result"),
            ("smsswitch_mo_in", "mo_in", "result", "MO messages by routing result"),
            ("smsswitch_outbox_events", "outbox", "event", "Outbox entries by event"),
        ):
            family = CounterMetricFamily(name, help_text, labels=[label])
            for value, count in (stats.get(key) or {}).items():
                family.add_metric([str(value)], count)
            yield family
        for name, key, help_text in (
            ("smsswitch_failovers", "failovers", "Messages failed over to the next connector"),
            ("smsswitch_replayed_resent", "replayed_resent", "SUBMITTED messages sent again after a restart"),
            ("smsswitch_journal_errors", "journal_errors", "Batches refused because the journal failed"),
        ):
            yield CounterMetricFamily(name, help_text, value=stats.get(key, 0))
        for name, key, help_text in (
            ("smsswitch_queue_depth", "queue_depth", "Messages routed but not yet handed to a connector"),
            ("smsswitch_outbox_pending", "outbox_pending", "Receipts and MO owed to tenants"),
        ):
            if key in stats:
                yield GaugeMetricFamily(name, help_text, value=stats[key])
        yield from _policy_families(stats)
        outbox = GaugeMetricFamily("smsswitch_outbox_depth", "Receipts and MO owed, by tenant", labels=["tenant"])
        for tenant, depth in (stats.get("outbox_by_tenant") or {}).items():
            outbox.add_metric([tenant], depth)
        yield outbox
        for key, name, help_text in (
            ("accept_latency", "smsswitch_accept_latency_seconds", "Submit received to durable"),
            ("carrier_latency", "smsswitch_carrier_latency_seconds", "submit_sm to its response"),
            ("end_to_end", "smsswitch_submit_to_receipt_seconds", "Accepted to final receipt"),
        ):
            yield from _latency_family(name, help_text, stats.get(key))

    # ------------------------------------------------------------------ journal

    def _journal(self) -> Iterator[Metric]:
        if self.journal is None:
            return
        writer = self.journal.writer_stats()
        for key, help_text in (
            ("commits", "Durable LMDB transactions"),
            ("ops_committed", "Journal operations committed"),
            ("requests_failed", "Commit requests that failed"),
            ("map_growths", "Times the LMDB map grew"),
            ("writer_restarts", "Times a journal writer process that died was replaced"),
        ):
            yield CounterMetricFamily(f"smsswitch_journal_{key}", help_text, value=writer.get(key, 0))
        yield GaugeMetricFamily("smsswitch_journal_pending", "Commit requests waiting", value=writer.get("pending", 0))
        info = self.journal.map_info()
        yield GaugeMetricFamily("smsswitch_journal_size_bytes", "Bytes used in the LMDB map", value=info["used_bytes"])
        yield GaugeMetricFamily("smsswitch_journal_map_bytes", "LMDB map size", value=info["map_size"])
        if "commit_latency" in writer:
            yield from _latency_family(
                "smsswitch_journal_commit_latency_seconds", "One group commit (write + fsync)", writer["commit_latency"]
            )


def _policy_families(stats: dict[str, Any]) -> Iterator[Metric]:
    """Message policy: MT refused by check, senders rewritten, templates matched, and the
    automatic answers to MO (sent, suppressed by loop protection with its reason, unroutable)."""
    policy = stats.get("policy") or {}
    rejections = CounterMetricFamily(
        "smsswitch_policy_rejections", "MT refused by the message policy, by check", labels=["tenant", "check"]
    )
    for tenant, by_check in (policy.get("rejections") or {}).items():
        for check, count in by_check.items():
            rejections.add_metric([tenant, check], count)
    yield rejections
    rewrites = CounterMetricFamily("smsswitch_policy_rewrites", "MT sent from the default sender instead", labels=["tenant"])
    for tenant, count in (policy.get("rewrites") or {}).items():
        rewrites.add_metric([tenant], count)
    yield rewrites
    templates = CounterMetricFamily(
        "smsswitch_templates_matched", "MT whose text matched an approved template", labels=["tenant", "template"]
    )
    for tenant, by_template in (policy.get("templates") or {}).items():
        for template, count in by_template.items():
            templates.add_metric([tenant, template], count)
    yield templates
    replies = stats.get("autoreplies") or {}
    results = CounterMetricFamily("smsswitch_autoreplies", "Automatic answers to MO by result", labels=["result"])
    for result in ("sent", "suppressed", "unroutable"):
        results.add_metric([result], replies.get(result, 0))
    yield results
    suppressed = CounterMetricFamily(
        "smsswitch_autoreplies_suppressed", "Automatic answers not sent, by reason", labels=["reason"]
    )
    for reason, count in (replies.get("suppressed_by") or {}).items():
        suppressed.add_metric([reason], count)
    yield suppressed
    if "tracked_senders" in replies:
        yield GaugeMetricFamily(
            "smsswitch_autoreply_tracked_senders", "Senders with reply counts in the loop-protection window",
            value=replies["tracked_senders"],
        )  # fmt: skip


def _latency_family(name: str, help_text: str, value: Any) -> Iterator[Metric]:
    """A `smsswitch.histogram.Histogram.snapshot()` as a Prometheus histogram."""
    if not value:
        return
    family = HistogramMetricFamily(name, help_text)
    buckets = [(str(bound), count) for bound, count in value["buckets"]]
    buckets.append(("+Inf", value["count"]))
    family.add_metric([], buckets, sum_value=value.get("sum", 0.0))
    yield family


def build_registry(collector: SwitchCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
