"""`smsswitch run`: the daemon's life — start in order, reload on SIGHUP, drain on SIGTERM.

Start: config → logging → route table → message policy (if the config names one) → journal
(opened, writer running) → embedded carrier simulator (if enabled) → switch (replays the
journal) → connectors → tenant listeners → HTTP edge; then READY=1. Nothing is accepted before
the journal is replayed, and READY=1 (and /readyz) only come once tenants can bind.

SIGHUP re-reads the daemon YAML, the route table and the policy file: a broken file keeps
everything running as it was and logs every error with file:line; good ones swap routes,
policy and tenant credentials and limits atomically, binds stay up.

SIGTERM/SIGINT: not ready → stop accepting binds and unbind tenants politely → let carrier
windows drain for `drain_grace` → stop the switch → the journal commits what is pending and
closes → exit 0. Whatever had not finished is in the journal and is replayed on next start.
"""

from __future__ import annotations

import ctypes
import os
import signal
from functools import partial
import sys
import time
from typing import Any

import attrs
import structlog
import trio

from smsswitch import __version__
from smsswitch.carrier.connector import Connector
from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.config import DaemonConfig
from smsswitch.config_load import load_config, online_cpus
from smsswitch.core.switch import Switch
from smsswitch.gctune import tune_for_daemon
from smsswitch.http.api import EdgeServices, RestApi
from smsswitch.http.app import EdgeApp, Readiness, serve_http
from smsswitch.http.auth import ApiKey, KeyRing
from smsswitch.http.callbacks import CallbackStore
from smsswitch.http.webhooks import WebhookDispatcher
from smsswitch.journal.journal import JournalConfig as JournalOpenConfig
from smsswitch.journal.journal import open_journal
from smsswitch.logs import configure_logging
from smsswitch.metrics import SwitchCollector, build_registry
from smsswitch.policy import Policy, load_policy
from smsswitch.routing import check_routes, compile_routes
from smsswitch.routing.schema import suggest
from smsswitch.routing.table import RouteTable
from smsswitch.sdnotify import Notifier
from smsswitch.server.listener import TenantServer
from smsswitch.server.tenants import TenantDirectory
from smsswitch.yamlconf import ConfigErrors, ConfigWarning, Mark, YamlMap, load_yaml

log = structlog.get_logger("smsswitch.daemon")

#: mallopt(3) parameter number of M_MMAP_THRESHOLD (glibc).
_M_MMAP_THRESHOLD = -3
#: Received submits the embedded carrier simulator remembers (see Daemon._start).
EMBEDDED_SIM_KEEP = 1000
#: Seconds a helper thread (the journal writer's receiver, trio's worker threads) waits for
#: the GIL before the busy trio thread is made to yield it (CPython's default: 5 ms). The
#: receiver wakes every committed batch's waiters, so the default added up to 5 ms to each
#: commit as the tenant sees it. Paced 3,900/s, 4 pairs of runs: submit_resp p50 31-53 ->
#: 19-40 ms, p99 77-102 -> 47-84 ms; peak throughput unchanged.
GIL_SWITCH_INTERVAL = 0.0005


def check_config(path: str) -> list[str]:
    """Every problem of the daemon YAML, its route table and its policy file, as
    'file:line:col: message' lines; warnings carry 'warning: ' after the position. Empty
    means good."""
    try:
        config = load_config(path)
    except ConfigErrors as exc:
        return [str(error) for error in exc.errors]
    errors, warnings = check_routes(
        config.routes_file, {t.name for t in config.tenants}, {c.name for c in config.connectors}
    )
    try:
        policy = _load_policy(config)
    except ConfigErrors as exc:
        errors = [*errors, *exc.errors]
    else:
        if not errors:
            warnings = [*warnings, *reply_route_warnings(policy, _compile(config))]
    return [str(e) for e in errors] + [_as_warning(w) for w in warnings]


def reply_route_warnings(policy: Policy | None, table: RouteTable) -> list[ConfigWarning]:
    """Auto-replies the policy file configures for MO rules the route table does not have
    (a typo, a renamed rule): they would never be sent."""
    if policy is None:
        return []
    known = {rule.name for rule in table.mo_rules}
    missing = sorted(set(policy.auto_replies.by_route) - known)
    if not missing:
        return []
    try:
        doc = load_yaml(policy.source)
        section = doc["auto_replies"]["routes"]
    except (ConfigErrors, KeyError, TypeError):
        section = None
    out = []
    for name in missing:
        mark = section.key_mark(name) if isinstance(section, YamlMap) else Mark(policy.source, 1, 1)
        out.append(mark.warning(
            f"auto-reply for MO rule {name!r}, which {table.source} does not have: it is never sent",
            hint=suggest(name, known, "MO rules"),
        ))  # fmt: skip
    return out


def _as_warning(warning: Any) -> str:
    """'file:line:col: warning: message' — the position first, like every other line."""
    return f"{warning.file}:{warning.line}:{warning.column}: warning: " + str(warning).split(": ", 1)[1]


def _compile(config: DaemonConfig) -> RouteTable:
    return compile_routes(config.routes_file, {t.name for t in config.tenants}, {c.name for c in config.connectors})


def _load_policy(config: DaemonConfig) -> Policy | None:
    """The config's message policy, checked against its tenants; None when it names none."""
    if config.policy_file is None:
        return None
    return load_policy(config.policy_file, {t.name for t in config.tenants})


def _key_ring(config: DaemonConfig) -> KeyRing:
    """The REST API keys of every tenant (ids and hashes only)."""
    return KeyRing(
        ApiKey(id=k.id, tenant=t.name, key_hash=k.key_hash, scopes=k.scopes, allowed_networks=k.allowed_networks)
        for t in config.tenants
        for k in t.api_keys
    )


def _journal_config(config: DaemonConfig) -> JournalOpenConfig:
    j = config.journal
    return JournalOpenConfig(
        path=j.path,
        initial_map_size=min(j.map_size, j.max_map_size),
        max_map_size=j.max_map_size,
        max_batch_ops=j.commit_max_batch,
        linger=j.commit_linger,
        node=config.node_id,
        # The writer is spawned by the main process and would inherit its placement: with only
        # `cpus.main` given it must be let out to every CPU ("empty: anywhere"), not share main's.
        writer_cpus=config.cpus.journal_writer or (tuple(sorted(online_cpus())) if config.cpus.main else ()),
    )


class Daemon:
    """One running smsswitch; `main()` is the whole life of the process."""

    def __init__(self, config: DaemonConfig, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.readiness = Readiness()
        self.collector = SwitchCollector()
        self.switch: Switch | None = None
        self.server: TenantServer | None = None
        self.connectors: dict[str, Connector] = {}
        self.simulator: CarrierSimulator | None = None
        self.routes: RouteTable | None = None
        self.policy: Policy | None = None
        self.edge: EdgeApp | None = None
        self.api: RestApi | None = None
        self.webhooks: WebhookDispatcher | None = None
        self._stopping = trio.Event()

    async def main(self) -> int:
        config = self.config
        self.notifier.notify(STATUS="loading routes")
        try:
            self.routes = await trio.to_thread.run_sync(_compile, config)
            self.notifier.notify(STATUS="loading policy")
            self.policy = await trio.to_thread.run_sync(_load_policy, config)
        except ConfigErrors as exc:
            for error in exc.errors:
                log.error("config_error", error=str(error))
            return 1
        for warning in reply_route_warnings(self.policy, self.routes):
            log.warning("config_warning", warning=str(warning))
        log.info("starting", version=__version__, config=config.source, routes_hash=self.routes.content_hash[:12],
                 policy=config.policy_file)  # fmt: skip
        self.notifier.notify(STATUS="opening journal")
        # Signal handlers go in before anything is started: READY=1 invites a SIGHUP at once,
        # and a signal that found Python's defaults would kill us (SIGHUP's default is exit).
        with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
            async with open_journal(_journal_config(config)) as journal:
                self.collector.journal = journal
                async with trio.open_nursery() as nursery:
                    await self._start(nursery, journal)
                    nursery.start_soon(self._signals, signals)
                    nursery.start_soon(self._watchdog)
                    await self._stopping.wait()
                    await self._drain()
                    nursery.cancel_scope.cancel()
        log.info("stopped")
        return 0

    async def _start(self, nursery: trio.Nursery, journal: Any) -> None:
        config = self.config
        if config.http.port:
            # Health and metrics answer from the start; the REST API is mounted once serving.
            self.edge = EdgeApp(build_registry(self.collector), self.readiness)
            tls = config.http.tls
            port = await nursery.start(
                partial(serve_http, certfile=tls.cert_file if tls else None, keyfile=tls.key_file if tls else None),
                self.edge, config.http.host, config.http.port,
            )  # fmt: skip
            log.info("http_listening", host=config.http.host, port=port, tls=tls is not None)
        if config.simulator.enabled:
            # Nobody reads the embedded simulator's record of received submits (tests run their
            # own): keep a few, not 100,000 PDUs (~100 MiB) in the daemon's memory.
            self.simulator = CarrierSimulator(attrs.evolve(config.simulator, keep_received=EMBEDDED_SIM_KEEP))
            port = await nursery.start(self.simulator.serve)
            log.info("simulator_listening", host=config.simulator.host, port=port)
        tenants = {t.name: t for t in config.tenants}
        self.webhooks = WebhookDispatcher(
            journal, tenants, callbacks=CallbackStore(journal), concurrency=config.http.webhook_concurrency
        )
        self.switch = switch = Switch(config, journal, self.routes, policy=self.policy, webhooks=self.webhooks)
        self.connectors = {c.name: Connector(c, switch) for c in config.connectors}
        switch.add_connectors(self.connectors)
        self.collector.switch = switch
        self.collector.connectors = lambda: self.connectors.values()
        self.notifier.notify(STATUS="replaying journal")
        started = time.monotonic()
        await nursery.start(switch.run)
        report = switch.replayed
        log.info("journal_replayed", seconds=round(time.monotonic() - started, 3), **_replay_fields(report))
        for connector in self.connectors.values():
            nursery.start_soon(connector.run)
        self.server = TenantServer(config.server, TenantDirectory(config.tenants), switch)
        addresses = await nursery.start(self.server.serve)
        self.collector.server = self.server
        for host, port, tls in addresses:
            log.info("smpp_listening", host=host, port=port, tls=tls)
        if self.edge is not None:
            self.api = RestApi(
                EdgeServices(
                    journal=journal,
                    core=switch,
                    tenants=switch.tenants,
                    keys=_key_ring(config),
                    reload_routes=self._reload_for_api,
                    opt_outs_changed=switch.opt_outs_changed,
                    limiter_for=self.server.registry.tenant_limiter,
                )
            )
            nursery.start_soon(self.api.run)
            self.edge.api = self.api
        tune_for_daemon()  # start-up's objects live for good: keep the collector off them
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self.readiness.set(True, "ready")
        self.notifier.notify(READY=1, STATUS=f"serving {len(config.tenants)} tenants, {len(self.connectors)} connectors")

    async def _signals(self, signals: Any) -> None:
        async for signum in signals:
            if signum == signal.SIGHUP:
                await self.reload()
            else:
                log.info("stop_requested", signal=signal.Signals(signum).name)
                self._stopping.set()
                return

    async def reload(self) -> bool:
        """Re-read config, routes and policy; swap only if all are clean. Returns success."""
        self.notifier.notify(RELOADING=1, STATUS="reloading", MONOTONIC_USEC=int(time.monotonic() * 1e6))
        try:
            new = await trio.to_thread.run_sync(load_config, self.config.source)
            table = await trio.to_thread.run_sync(_compile, new)
            policy = await trio.to_thread.run_sync(_load_policy, new)
        except ConfigErrors as exc:
            self.collector.reloads["failed"] += 1
            for error in exc.errors:
                log.error("reload_failed", error=str(error))
            log.error("reload_rejected", errors=len(exc.errors), keeping=self.routes.content_hash[:12] if self.routes else None)
            self.notifier.notify(READY=1, STATUS="reload rejected; running the previous configuration")
            return False
        self.routes = table
        assert self.switch is not None and self.server is not None
        self.switch.set_routes(table)
        self.policy = policy
        self.switch.set_policy(policy)
        for warning in reply_route_warnings(policy, table):
            log.warning("config_warning", warning=str(warning))
        try:
            keys = _key_ring(new)
        except ValueError as exc:
            self.collector.reloads["failed"] += 1
            log.error("reload_rejected", error=str(exc))
            self.notifier.notify(READY=1, STATUS="reload rejected; running the previous configuration")
            return False
        self.switch.set_tenants({t.name: t for t in new.tenants})
        self.server.reload_tenants(TenantDirectory(new.tenants))
        if self.api is not None:
            self.api.reload(self.switch.tenants, keys)
        unchanged = {c.name for c in new.connectors} ^ set(self.connectors)
        if unchanged:
            log.warning("reload_connectors_need_restart", connectors=sorted(unchanged))
        if new.cpus != self.config.cpus:
            log.warning("reload_cpus_need_restart", running=attrs.asdict(self.config.cpus), configured=attrs.asdict(new.cpus))
        self.config = new
        self.collector.reloads["ok"] += 1
        log.info("reloaded", routes_hash=table.content_hash[:12], policy=new.policy_file, tenants=len(new.tenants),
                 warnings=len(table.warnings))  # fmt: skip
        self.notifier.notify(READY=1, STATUS="reloaded")
        return True

    async def _reload_for_api(self) -> str:
        """POST /v1/admin/routes/reload: the same reload as SIGHUP, refused loudly when broken."""
        if not await self.reload():
            raise ValueError("the new configuration has errors (see the daemon log); the previous one stays")
        assert self.routes is not None
        return f"reloaded; routes {self.routes.content_hash[:12]}"

    async def _drain(self) -> None:
        self.readiness.set(False, "draining")
        self.notifier.notify(STOPPING=1, STATUS="draining")
        grace = self.config.drain_grace
        log.info("draining", grace=grace)
        if self.server is not None:
            await self.server.shutdown(min(grace, 5.0))
        leftovers: list[Any] = []

        async def stop_one(connector: Connector) -> None:
            leftovers.extend(await connector.stop(grace))

        async with trio.open_nursery() as nursery:
            for connector in self.connectors.values():
                nursery.start_soon(stop_one, connector)
        if self.switch is not None:
            # Buffered "sent" marks and tenant acks go to the journal before it closes.
            await self.switch.flush()
        log.info("drained", unsent_jobs=len(leftovers))

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval()
        if interval is None:
            return
        while True:
            # Reaching this line at all proves the event loop is alive; a failing journal is not healthy.
            journal = self.collector.journal
            if journal is None or journal.healthy:
                self.notifier.notify(WATCHDOG=1)
            await trio.sleep(interval)


def _replay_fields(report: Any) -> dict[str, Any]:
    if report is None:
        return {}
    fields = {}
    for name in ("queued", "resent", "outbox", "scheduled", "parked"):
        if hasattr(report, name):
            value = getattr(report, name)
            fields[name] = value if isinstance(value, int) else len(value)
    return fields


def _return_large_blocks_to_the_os() -> None:
    """glibc raises its mmap threshold when the first large block is freed; from then on the
    16 MiB scrypt buffer of each bind check comes from a thread arena and stays resident
    (+64 MiB after one storm of 4 concurrent binds, measured). A fixed threshold keeps large
    blocks mmap'd, so they go back to the OS when freed."""
    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def run_daemon(config_path: str, *, log_level: str | None = None, log_format: str | None = None) -> int:
    """Entry point of `smsswitch run`; returns the process exit code."""
    _return_large_blocks_to_the_os()
    try:
        config = load_config(config_path)
    except ConfigErrors as exc:
        print(exc, file=sys.stderr)
        return 1
    logging = config.logging
    stream = open(logging.file, "a", buffering=1) if logging.file else None  # noqa: SIM115
    configure_logging(
        level=log_level or logging.level, fmt=log_format or logging.format, unmask=logging.unmask, stream=stream
    )
    if config.cpus.main:
        # Before trio starts any thread: threads inherit the placement of the one that made them.
        try:
            os.sched_setaffinity(0, config.cpus.main)
        except OSError as exc:
            log.error("fatal", error=f"cpus.main {list(config.cpus.main)}: {exc}")
            return 1
        log.info("cpu_affinity", main=list(config.cpus.main), journal_writer=list(config.cpus.journal_writer))
    try:
        return trio.run(Daemon(config).main)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        log.error("fatal", error=str(exc))
        return 1
    finally:
        if stream is not None:
            stream.close()
