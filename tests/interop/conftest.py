"""Fixtures for the interop tests: third-party SMPP peers as subprocesses, always stopped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from tests.interop.daemon_harness import CARRIER_PASSWORD, CARRIER_SYSTEM_ID, Daemon, start_daemon
from tests.interop.peers import (
    NODE_DIR,
    JsonLinesProcess,
    ProcessGroup,
    kill_leftovers,
    require_kannel,
    require_net_smpp,
    require_node_smpp,
)

StartSmsc = Callable[..., Awaitable[tuple[JsonLinesProcess, int]]]

_PEER_CHECKS: dict[str, Callable[[], object]] = {
    "node": require_node_smpp,
    "perl": require_net_smpp,
    "kannel": require_kannel,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "peers(*names): third-party peers a test needs (node, perl, kannel)")


def pytest_sessionfinish(session: pytest.Session) -> None:
    kill_leftovers()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or in CI fail) before trio starts, so the reason shows: a missing peer."""
    for marker in item.iter_markers("peers"):
        for name in marker.args:
            _PEER_CHECKS[name]()


@pytest.fixture
async def processes(nursery: trio.Nursery) -> AsyncIterator[ProcessGroup]:
    """Every peer process a test starts; this fixture's nursery outlives all their users.
    Each process's last events, log lines and stderr go to stdout, which pytest shows only
    for a failed test (under pytest-trio, teardown is part of the test's call)."""
    group = ProcessGroup(nursery)
    try:
        yield group
    finally:
        await group.stop_all()
        for process in group.started:
            print(process.describe())


@pytest.fixture
def start_node_smsc(processes: ProcessGroup) -> StartSmsc:
    """Start node-smpp as a carrier SMSC (tests/interop/node/smsc.js); returns it and its port."""
    node = require_node_smpp()

    async def start(**options: Any) -> tuple[JsonLinesProcess, int]:
        smsc = await processes.start(
            JsonLinesProcess("node-smpp smsc", [node, "smsc.js", json.dumps(options)], cwd=NODE_DIR)
        )
        (listening,) = await smsc.wait_for("listening", timeout=15)
        return smsc, int(listening["port"])

    return start


@attrs.define
class Switch:
    """The daemon under test and the node-smpp SMSC its carrier connector is bound to."""

    daemon: Daemon
    carrier: JsonLinesProcess

    @property
    def port(self) -> int:
        return self.daemon.smpp_port

    def carrier_submits(self, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """submit_sm PDUs the carrier received (node-smpp's decoded view plus raw octets)."""
        return [e["pdu"] for e in self.carrier.find("pdu", lambda e: e["pdu"]["command"] == "submit_sm")
                if where is None or where(e["pdu"])]

    async def wait_carrier_submits(self, count: int, where: Callable[[dict], bool] | None = None,
                                   timeout: float = 15.0) -> list[dict]:
        found = await self.carrier.wait_for(
            "pdu", lambda e: e["pdu"]["command"] == "submit_sm" and (where is None or where(e["pdu"])),
            count=count, timeout=timeout)
        return [e["pdu"] for e in found]

    async def inject_mo(self, tag: str, **fields: Any) -> dict:
        """The carrier sends a deliver_sm (MO); returns its deliver_sm_resp event."""
        await self.carrier.send({"cmd": "deliver", "tag": tag, "fields": fields})
        (resp,) = await self.carrier.wait_for("deliver_resp", lambda e: e["tag"] == tag, timeout=15)
        return resp


@pytest.fixture
async def switch(start_node_smsc: StartSmsc, processes: ProcessGroup, tmp_path: Path) -> Switch:
    """smsswitch running as a daemon, its carrier connector bound to node-smpp."""
    carrier, carrier_port = await start_node_smsc(
        system_id=CARRIER_SYSTEM_ID, password=CARRIER_PASSWORD, receipt_delay_ms=100)
    daemon = await start_daemon(processes, tmp_path, carrier_port)
    await carrier.wait_for("bind", lambda e: e["command_status"] == 0, timeout=15)
    return Switch(daemon, carrier)
