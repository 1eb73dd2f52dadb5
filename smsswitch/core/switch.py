"""The switch: the one place where a message's life is decided.

    switch = Switch(config, journal, route_table, policy=policy)   # policy: optional
    connectors = {c.name: Connector(c, switch) for c in config.connectors}
    switch.add_connectors(connectors)
    server = TenantServer(config.server, tenants, switch)
    async with trio.open_nursery() as nursery:
        await nursery.start(switch.run)          # replay first, then the background tasks
        for c in connectors.values(): nursery.start_soon(c.run)
        await nursery.start(server.serve)
        ...                                      # SIGHUP: switch.set_routes(new_table),
                                                 #   switch.set_policy(new_policy)
        await server.shutdown(grace); [await c.stop(grace) for c in connectors.values()]
        await switch.flush(); nursery.cancel_scope.cancel()

It is the tenant server's `TenantSink` and every connector's `CarrierSink`, and it wires
the parts that do the work: Acceptor (submit), Feeder (hand QUEUED messages to
connectors), CarrierResults, CarrierInbound (receipts, MO), OutboxDispatcher, Expirer,
MessageControl (query/cancel/replace), AutoReplies (answers to MO). Background work is a
fixed set of tasks, never one per message.

The message policy (smsswitch.policy), when given, is asked about every MT on accept and
names the automatic answers to MO; `set_policy` swaps it on reload (the auto-replier's
per-sender counters are kept).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs
import structlog
import trio

from smsswitch.carrier.api import SubmitJob, SubmitResult
from smsswitch.config import DaemonConfig, TenantConfig
from smsswitch.core.accept import Acceptor
from smsswitch.core.autoreplies import AutoReplies
from smsswitch.core.control import MessageControl
from smsswitch.core.expiry import RECEIPT_WAIT, Expirer
from smsswitch.core.feeder import Feeder
from smsswitch.core.inbound import CarrierInbound
from smsswitch.core.outbox import OutboxDispatcher
from smsswitch.core.owed import LIVE_STATES, Owed
from smsswitch.core.parked import ParkedReceipts
from smsswitch.core.ports import ConnectorPort, WebhookChannel
from smsswitch.core.replay import ReplayReport, replay
from smsswitch.core.results import CarrierResults
from smsswitch.core.stats import SwitchStats
from smsswitch.core.suppression import has_any
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import Transition
from smsswitch.journal.records import MessageRecord, MessageState
from smsswitch.journal.store import iter_keys
from smsswitch.numbers import parse_number
from smsswitch.policy import AutoReplier, Policy
from smsswitch.routing.decisions import MtDecision
from smsswitch.routing.table import RouteTable
from smsswitch.server.api import BindInfo, DeliveryOutlet, OutboundDelivery, QueryAnswer, SubmitAnswer, SubmitRequest
from smsswitch.smpp.pdu import DataSm, DeliverSm

log = structlog.get_logger("smsswitch.core")

#: Per-tenant outbox counts in stats() stop here.
OUTBOX_COUNT_CAP = 10_000


class Switch:
    """Implements `smsswitch.server.api.TenantSink` and `smsswitch.carrier.api.CarrierSink`."""

    def __init__(
        self,
        config: DaemonConfig,
        journal: Journal,
        routes: RouteTable | Callable[[], RouteTable],
        connectors: Mapping[str, ConnectorPort] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        webhooks: WebhookChannel | None = None,
        rng: random.Random | None = None,
        max_backlog: int = 100_000,
        max_parked: int = 100_000,
        receipt_wait: float = RECEIPT_WAIT,
        policy: Policy | None = None,
    ) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        self.rng = rng or random.Random()
        if isinstance(routes, RouteTable) or hasattr(routes, "route_mt"):
            self._table: RouteTable | None = routes  # type: ignore[assignment]
            self._routes: Callable[[], RouteTable] = lambda: self._table  # type: ignore[return-value]
        else:
            self._table = None
            self._routes = routes  # type: ignore[assignment]
        self.tenants: dict[str, TenantConfig] = {t.name: t for t in config.tenants}
        self.connectors: dict[str, ConnectorPort] = dict(connectors or {})
        self.stats_ = SwitchStats()
        self._policy = policy
        self.replier = AutoReplier(policy.auto_replies if policy is not None else None)
        self.parked = ParkedReceipts(max_parked)
        self.owed = Owed(self.tenants, journal.new_id)
        self.feeder = Feeder(journal, self.connectors, clock=clock)
        self.outbox = OutboxDispatcher(journal, self.tenants, clock=clock)
        #: Delivers WEBHOOK entries (the http layer's dispatcher); None: they wait on disk.
        self.webhooks = webhooks
        self.autoreplies = AutoReplies(self.feeder, journal.new_id, self.stats_, self.current_policy, self.replier, self.rng)
        self.inbound = CarrierInbound(
            config, journal, self.owed, self.parked, self.current_routes, self._notify, self.stats_, clock=clock,
            replies=self.autoreplies, outbox=self.outbox,
        )  # fmt: skip
        self.results = CarrierResults(
            journal, self.feeder, self.owed, self.stats_, self.route_record, self._notify,
            self.inbound.apply_for, clock=clock,
            failover_on={c.name: c.failover_on for c in config.connectors if c.failover_on},
        )  # fmt: skip
        self.acceptor = Acceptor(
            journal, self.feeder, self.current_routes, self.stats_, lambda: self.inbound.opt_outs_seen,
            policy=self.current_policy, clock=clock, rng=self.rng, max_backlog=max_backlog,
        )  # fmt: skip
        self.control = MessageControl(journal, self.feeder, clock=clock)
        self.expirer = Expirer(
            journal, self.tenants, self.inbound, self.outbox, self.owed, self._notify, clock=clock,
            receipt_wait=receipt_wait,
        )  # fmt: skip
        self.feeder.reroute = self._reroute
        self.feeder.expire = self._expire
        self.replayed: ReplayReport | None = None

    # ------------------------------------------------------------------ wiring

    def add_connectors(self, connectors: Mapping[str, ConnectorPort]) -> None:
        """Connectors are built with the switch as their sink, so they arrive after it."""
        self.connectors.update(connectors)
        self.feeder.kick()

    def set_tenants(self, tenants: Mapping[str, TenantConfig]) -> None:
        """Config reload: receipts, MO and outbox delivery use the new tenant settings
        (the dict is shared by the parts, so it is updated in place)."""
        self.tenants.clear()
        self.tenants.update(tenants)
        if self.webhooks is not None:
            self.webhooks.set_tenants(self.tenants)

    def opt_outs_changed(self) -> None:
        """Someone filed an opt-out outside the MO path (the REST API): look them up from
        now on (until the first one exists, submits skip the lookup)."""
        self.inbound.opt_outs_seen = True

    def set_routes(self, table: RouteTable) -> None:
        """Hot reload: new messages use `table`; messages in flight keep their decision."""
        self._table = table
        self._routes = lambda: self._table  # type: ignore[return-value]

    def current_routes(self) -> RouteTable:
        return self._routes()

    def set_policy(self, policy: Policy | None) -> None:
        """Hot reload: new MT and MO use `policy` (None: no policy checks, no auto-replies);
        the auto-replier keeps its per-sender counters across the swap."""
        self._policy = policy
        if policy is not None:
            self.replier.update(policy.auto_replies)

    def current_policy(self) -> Policy | None:
        return self._policy

    def route_record(self, record: MessageRecord) -> MtDecision:
        """Route a journalled message again (after a restart or for failover without the
        original decision): the number is re-parsed here, off the hot path."""
        tenant = self.tenants.get(record.tenant)
        info = parse_number(record.destination, record.dest_ton, record.dest_npi, tenant.default_region if tenant else None)
        when = datetime.fromtimestamp(self.clock(), timezone.utc)
        return self.current_routes().route_mt(record.tenant, info, record.source, record.data_coding, when, self.rng.random())

    def _notify(self, tenant: str) -> None:
        self.outbox.notify(tenant)
        if self.webhooks is not None:
            self.webhooks.kick()

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Replay the journal, then run the background tasks until cancelled."""
        with self.journal.read() as txn:
            self.inbound.opt_outs_seen = has_any(self.journal.store, txn)
        self.replayed = await replay(self.journal, self.parked, clock=self.clock)
        self.stats_.replayed_resent = self.replayed.resent
        self.stats_.replayed_queued = self.replayed.queued
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.feeder.run)
            nursery.start_soon(self.outbox.run)
            nursery.start_soon(self.results.run_sent_writer)
            nursery.start_soon(self.expirer.run)
            if self.webhooks is not None:
                nursery.start_soon(self.webhooks.run)
            self.feeder.kick()
            task_status.started()

    async def flush(self) -> None:
        """Commit what is buffered (sent marks, tenants' acks). For shutdown: after the
        server and the connectors stopped, before the switch task is cancelled."""
        await self.results.flush_sent()
        await self.outbox.settle()

    async def _reroute(self, records: list[MessageRecord]) -> None:
        """Messages whose connector is unknown (config changed) or never routed (redrive)."""
        now = self.clock()
        ops: list[Any] = []
        moved: list[tuple[MessageRecord, tuple[str, ...]]] = []
        tenants: set[str] = set()
        for record in records:
            decision = self.route_record(record)
            name, rest = self.feeder.choose(decision.connectors) if decision.routed else (None, ())
            if name is not None:
                ops.append(Transition(record.id, MessageState.QUEUED, now, route=decision.rule, connector=name,
                                      detail="routed again", expect=LIVE_STATES))  # fmt: skip
                moved.append((attrs.evolve(record, connector=name, state=MessageState.QUEUED), rest))
            else:
                op, entries = self.owed.finish(
                    record, MessageState.UNDELIVERABLE, now, error=int(decision.status),
                    detail=f"no route: {decision.reason or 'no connector'}",
                )  # fmt: skip
                ops.append(op)
                if entries:
                    tenants.add(record.tenant)
        if not await self._commit(ops):
            return
        for record, rest in moved:
            self.feeder.offer(record, rest)
        for name in tenants:
            self._notify(name)

    async def _expire(self, records: list[MessageRecord]) -> None:
        """Validity passed before any carrier took the message: EXPIRED, with its receipt."""
        now = self.clock()
        ops: list[Any] = []
        tenants: set[str] = set()
        for record in records:
            op, entries = self.owed.finish(record, MessageState.EXPIRED, now, detail="validity passed while queued")
            ops.append(op)
            self.stats_.final_states["EXPIRED"] += 1
            if entries:
                tenants.add(record.tenant)
        if await self._commit(ops):
            for name in tenants:
                self._notify(name)

    async def _commit(self, ops: list[Any]) -> bool:
        if not ops:
            return True
        try:
            await self.journal.commit(ops)
            return True
        except JournalError as exc:
            self.stats_.journal_errors += 1
            log.warning("switch.commit_failed", ops=len(ops), error=str(exc))
            return False

    # ------------------------------------------------------------------ TenantSink

    async def submit(self, bind: BindInfo, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        """Accept a batch once its connector has room for it (the feeder's back-pressure:
        held here, the tenant's reads stop; see `Feeder.admit`)."""
        async with self.feeder.admit(bind.tenant.name, len(requests)):
            return await self.acceptor.submit(bind, requests)

    async def query(self, bind: BindInfo, message_id: str, source_addr: str) -> QueryAnswer:
        return self.control.query(bind, message_id)

    async def cancel(self, bind: BindInfo, message_id: str, source_addr: str, destination_addr: str) -> int:
        return await self.control.cancel(bind, message_id)

    async def replace(
        self, bind: BindInfo, message_id: str, source_addr: str, new_payload: bytes,
        registered_delivery: int, validity: float | None, schedule: float | None,
    ) -> int:  # fmt: skip
        return await self.control.replace(bind, message_id, new_payload, registered_delivery, validity, schedule)

    def outlet_up(self, outlet: DeliveryOutlet) -> None:
        self.outbox.outlet_up(outlet)

    def outlet_down(self, outlet: DeliveryOutlet, unanswered: list[OutboundDelivery]) -> None:
        self.outbox.outlet_down(outlet, unanswered)

    async def deliveries_answered(self, bind: BindInfo, answers: list[tuple[str, int]]) -> None:
        self.outbox.answered(answers)

    # ------------------------------------------------------------------ CarrierSink

    async def submits_sent(self, connector: str, jobs: list[SubmitJob]) -> None:
        self.results.submits_sent(jobs)

    async def submit_results(self, connector: str, results: list[SubmitResult]) -> None:
        await self.results.submit_results(connector, results)

    async def carrier_delivers(self, connector: str, pdus: list[DeliverSm | DataSm]) -> list[int]:
        return await self.inbound.deliver(connector, pdus)

    # ------------------------------------------------------------------ metrics

    def _outbox_by_tenant(self) -> dict[str, int]:
        """Entries owed per configured tenant, counted up to OUTBOX_COUNT_CAP each (a
        scrape must not walk a million-entry backlog)."""
        store = self.journal.store
        out: dict[str, int] = {}
        with self.journal.read() as txn:
            for name in self.tenants:
                count = 0
                for count, _key in enumerate(iter_keys(txn, store.outbox_by_tenant, keys.tenant_prefix(name)), 1):
                    if count >= OUTBOX_COUNT_CAP:
                        break
                out[name] = count
        return out

    def stats(self) -> dict[str, Any]:
        """Counters since start plus current depths (for /metrics and tests)."""
        out = self.stats_.snapshot()
        counts = self.journal.counts()
        out["journal"] = {k: v for k, v in counts.items() if k.startswith("state.") or k in ("outbox", "dead_letters")}
        out["handed_to_connectors"] = len(self.feeder.handed)
        out["queued_on_disk"] = max(0, counts["state.queued"] + counts["state.accepted"] - len(self.feeder.handed))
        out["outbox_depth"] = counts["outbox"] - len(self.parked)
        out["queue_depth"] = out["queued_on_disk"]
        out["outbox_pending"] = out["outbox_depth"]
        out["outbox_by_tenant"] = self._outbox_by_tenant()
        out["outbox_dispatch"] = {**self.outbox.depth(), **self.outbox.counts}
        out["parked_receipts"] = len(self.parked)
        out["sent_marks_pending"] = self.results.sent_pending
        out["sent_marks_unrecorded"] = self.results.sent_unrecorded
        feeder = self.feeder
        out["feeder"] = {"offered": feeder.offered, "refused": feeder.refused, "blocked": feeder.blocked,
                         "holds": feeder.holds, "hold_timeouts": feeder.hold_timeouts}  # fmt: skip
        if self.webhooks is not None:
            out["webhooks"] = dict(self.webhooks.counts)
        replier = self.replier.stats()
        out["autoreplies"]["suppressed_by"] = replier["suppressed"]
        out["autoreplies"]["tracked_senders"] = replier["tracked_senders"]
        return out

