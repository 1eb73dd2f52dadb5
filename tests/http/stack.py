"""The HTTP edge on the real switch for end-to-end tests: LMDB journal in a temp dir, the
carrier simulator and a connector, the Switch with the webhook dispatcher, and the REST API
served by hypercorn on 127.0.0.1 — everything talking for real."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
from prometheus_client import CollectorRegistry

from smsswitch.carrier.connector import Connector
from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.config import ConnectorConfig, DaemonConfig, JournalConfig, SimulatorConfig, TenantConfig
from smsswitch.core import Switch
from smsswitch.http.api import EdgeServices, RestApi
from smsswitch.http.app import EdgeApp, Readiness, serve_http
from smsswitch.http.auth import ApiKey, KeyRing, new_api_key
from smsswitch.http.retry import RetryPolicy
from smsswitch.http.webhooks import WebhookDispatcher
from smsswitch.journal.journal import Journal, open_journal
from smsswitch.journal.journal import JournalConfig as JournalOpenConfig
from smsswitch.routing import compile_routes

DEST = "+263771234567"  # a valid Zimbabwe (Econet) mobile
OTHER = "+263772345678"
SHORT_CODE = "60682"
ROUTES: dict[str, Any] = {
    "version": 1,
    "mt": [{"name": "all", "match": {}, "connectors": ["sim"]}],
    "mo": [
        {"name": "beta-join", "match": {"to": [SHORT_CODE], "keyword": ["JOIN"]}, "deliver": {"tenant": "beta"}},
        {"name": "acme", "match": {"to": [SHORT_CODE]}, "deliver": {"tenant": "acme"}},
    ],
}
#: key id → scopes (and tenant); tokens are made per run, hashed cheaply for speed.
KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "acme-send": ("acme", ("send", "read")),
    "acme-admin": ("acme", ("send", "read", "admin")),
    "acme-read": ("acme", ("read",)),
    "ops": ("ops", ("operator", "admin", "read")),
    "beta-send": ("beta", ("send", "read", "admin")),
    "acme-vpn": ("acme", ("send",)),
    "root": ("ops", ("send", "read", "admin", "operator")),
}


def tenant(name: str, **overrides: Any) -> TenantConfig:
    values: dict[str, Any] = dict(name=name, system_id=name, password_hash="x", default_region="ZW")
    values.update(overrides)
    return TenantConfig(**values)


@attrs.define
class Stack:
    journal: Journal
    switch: Switch
    sim: CarrierSimulator
    api: RestApi
    webhooks: WebhookDispatcher
    port: int
    tokens: dict[str, str]
    reloads: list[str]

    def client(self, key: str | None = None, **kw: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[key]}"} if key else {}
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", headers=headers, trust_env=False,
                                 timeout=10.0, **kw)  # fmt: skip

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await trio.sleep(0.02)


@asynccontextmanager
async def running(
    path: Path, *, tenants: tuple[TenantConfig, ...] | None = None, sim: dict[str, Any] | None = None
) -> AsyncIterator[Stack]:
    tenants = tenants or (tenant("acme"), tenant("beta"), tenant("ops"))
    simulator = CarrierSimulator(SimulatorConfig(port=0, receipt_delay=0.05, seed=7, **(sim or {})))
    tokens: dict[str, str] = {}
    keys = []
    for key_id, (owner, scopes) in KEYS.items():
        token, key_hash = new_api_key(key_id, n=2**4)
        tokens[key_id] = token
        networks = (ipaddress.ip_network("10.0.0.0/8"),) if key_id == "acme-vpn" else ()
        keys.append(ApiKey(key_id, owner, key_hash, frozenset(scopes), networks))
    reloads: list[str] = []
    async with open_journal(JournalOpenConfig(path=path / "journal", sync=False)) as journal:
        async with trio.open_nursery() as nursery:
            sim_port = await nursery.start(simulator.serve)
            connector_config = ConnectorConfig(
                name="sim", host="127.0.0.1", port=sim_port, system_id="sim", password="simpass", window=10,
                response_timeout=2.0, reconnect_initial=0.05, reconnect_max=0.2, max_attempts=2,
            )  # fmt: skip
            config = DaemonConfig(source="<test>", routes_file="<test>", tenants=tenants,
                                  connectors=(connector_config,), journal=JournalConfig(path=str(path / "journal")))  # fmt: skip
            table = compile_routes(ROUTES, [t.name for t in tenants], ["sim"])
            switch = Switch(config, journal, table)
            webhooks = WebhookDispatcher(journal, switch.tenants, policy=RetryPolicy(base=0.02, cap=0.1), idle_pass=0.05)
            switch.webhooks = webhooks  # type: ignore[assignment]  # the Switch runs and kicks it
            connector = Connector(connector_config, switch)
            switch.add_connectors({"sim": connector})
            await nursery.start(switch.run)
            nursery.start_soon(connector.run)

            async def reload_routes() -> str:
                if reloads and reloads[-1] == "break":
                    raise ValueError("routes.yaml:3:5: unknown connector 'nope'")
                switch.set_routes(compile_routes(ROUTES, [t.name for t in tenants], ["sim"]))
                reloads.append("ok")
                return "2 MT rules, 2 MO rules"

            def opt_outs_changed() -> None:
                switch.inbound.opt_outs_seen = True

            api = RestApi(EdgeServices(journal=journal, core=switch, tenants=switch.tenants, keys=KeyRing(keys),
                                       reload_routes=reload_routes, opt_outs_changed=opt_outs_changed, private_callbacks=True))  # fmt: skip
            webhooks.callbacks = api.callbacks
            port = await nursery.start(serve_http, EdgeApp(CollectorRegistry(), Readiness(), api=api), "127.0.0.1", 0)
            stack = Stack(journal, switch, simulator, api, webhooks, port, tokens, reloads)
            await stack.wait_for(lambda: connector.health().sessions_bound > 0)
            try:
                yield stack
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await connector.stop(0.0)
                    simulator.stop()
                nursery.cancel_scope.cancel()
