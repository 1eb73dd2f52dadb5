"""The whole switch over real TCP for the core's tests: a real LMDB journal in a temp dir,
the carrier simulator, real connectors, the real tenant server, and the Switch between."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from smsswitch.carrier.connector import Connector
from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.config import (
    ConnectorConfig,
    DaemonConfig,
    JournalConfig,
    ListenerConfig,
    ServerConfig,
    SimulatorConfig,
    TenantConfig,
)
from smsswitch.core import Switch
from smsswitch.journal.journal import Journal, open_journal
from smsswitch.journal.journal import JournalConfig as JournalOpenConfig
from smsswitch.passwords import hash_password
from smsswitch.routing import compile_routes
from smsswitch.server.listener import TenantServer
from smsswitch.server.tenants import TenantDirectory
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import BindTransceiver, Pdu
from tests.core.tenant import PASSWORD

FAST_HASH = hash_password(PASSWORD, n=2**4)
DEST = "263771234567"  # a valid Zimbabwe (Econet) mobile
SHORT_CODE = "60682"

ROUTES: dict[str, Any] = {
    "version": 1,
    "mt": [{"name": "all", "match": {}, "connectors": ["sim"]}],
    "mo": [
        {"name": "acme-keyword", "match": {"to": [SHORT_CODE], "keyword": ["60682"]}, "deliver": {"tenant": "acme"}},
        {"name": "beta-shortcode", "match": {"to": [SHORT_CODE]}, "deliver": {"tenant": "beta"}},
    ],
}


def tenant(name: str = "acme", **overrides: Any) -> TenantConfig:
    values: dict[str, Any] = dict(name=name, system_id=name, password_hash=FAST_HASH, default_region="ZW", window=10)
    values.update(overrides)
    return TenantConfig(**values)


def sim_config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = dict(port=0, receipt_delay=0.05, seed=7)
    values.update(overrides)
    return SimulatorConfig(**values)


@attrs.define
class Harness:
    journal: Journal
    switch: Switch
    sim: CarrierSimulator
    server: TenantServer
    port: int
    connectors: dict[str, Connector]
    config: DaemonConfig
    sims: dict[str, CarrierSimulator]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await trio.sleep(0.02)

    def state(self, message_id: str) -> str:
        record = self.journal.get(message_id)
        return record.state.name if record else "missing"


@asynccontextmanager
async def running(
    path: Path,
    *,
    tenants: tuple[TenantConfig, ...] = (tenant(), tenant("beta")),
    sim: SimulatorConfig | None = None,
    sims: dict[str, SimulatorConfig] | None = None,
    routes: dict[str, Any] | None = None,
    connector: dict[str, Any] | None = None,
    per_connector: dict[str, dict[str, Any]] | None = None,
    unmatched_receipt_ttl: float = 600.0,
    switch_options: dict[str, Any] | None = None,
    wait_bound: bool = True,
) -> AsyncIterator[Harness]:
    """Everything started, in a nursery that is torn down on exit (journal closed last).
    One simulator and connector per entry of `sims` (default: one called "sim")."""
    sims = sims or {"sim": sim or sim_config()}
    simulators = {name: CarrierSimulator(c) for name, c in sims.items()}
    async with open_journal(JournalOpenConfig(path=path / "journal", sync=False)) as journal:
        async with trio.open_nursery() as nursery:
            connector_configs = []
            for name, simulator in simulators.items():
                sim_port = await nursery.start(simulator.serve)
                values: dict[str, Any] = dict(
                    name=name, host="127.0.0.1", port=sim_port, system_id="sim", password="simpass",
                    window=10, response_timeout=2.0, reconnect_initial=0.05, reconnect_max=0.2, max_attempts=2,
                )  # fmt: skip
                values.update(connector or {})
                values.update((per_connector or {}).get(name, {}))
                connector_configs.append(ConnectorConfig(**values))
            config = DaemonConfig(
                source="<test>", routes_file="<test>", tenants=tenants, connectors=tuple(connector_configs),
                journal=JournalConfig(path=str(path / "journal"), unmatched_receipt_ttl=unmatched_receipt_ttl),
            )  # fmt: skip
            table = compile_routes(routes or ROUTES, [t.name for t in tenants], [c.name for c in config.connectors])
            switch = Switch(config, journal, table, **(switch_options or {}))
            connectors = {c.name: Connector(c, switch) for c in config.connectors}
            switch.add_connectors(connectors)
            await nursery.start(switch.run)
            for c in connectors.values():
                nursery.start_soon(c.run)
            server_config = ServerConfig(listeners=(ListenerConfig("127.0.0.1", 0),), failed_bind_delay=0.01)
            server = TenantServer(server_config, TenantDirectory(tenants), switch)
            addresses = await nursery.start(server.serve)
            first = next(iter(simulators.values()))
            harness = Harness(journal, switch, first, server, addresses[0][1], connectors, config, simulators)
            if wait_bound:
                await harness.wait_for(lambda: all(c.health().sessions_bound for c in connectors.values()))
            try:
                yield harness
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await server.shutdown(0.2)
                    for c in connectors.values():
                        await c.stop(0.0)
                    await switch.flush()
                    for simulator in simulators.values():
                        simulator.stop()
                nursery.cancel_scope.cancel()


class RawTenant:
    """An ESME over our own codec, for what smpplib cannot send (cancel_sm, replace_sm)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._framer = Framer(1 << 20)
        self._frames: list[bytes] = []
        self._seq = itertools.count(1)

    @classmethod
    async def bound(cls, port: int, system_id: str) -> RawTenant:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        response = await client.request(BindTransceiver(system_id=system_id, password=PASSWORD))
        assert response.command_status == 0
        return client

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a request and return its response (deliver_sm in between are skipped)."""
        pdu.sequence_number = next(self._seq)
        await self.stream.send_all(encode_pdu(pdu))
        while True:
            while not self._frames:
                data = await self.stream.receive_some(65536)
                assert data, "connection closed"
                self._frames.extend(self._framer.feed(data))
            answer = decode_pdu(self._frames.pop(0))
            if answer.sequence_number == pdu.sequence_number and answer.is_response:
                return answer

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)
