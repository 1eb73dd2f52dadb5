"""Fixtures for the interop tests: third-party SMPP peers as subprocesses, always stopped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

from tests.interop.peers import NODE_DIR, JsonLinesProcess, ProcessGroup, require_node_smpp

StartSmsc = Callable[..., Awaitable[tuple[JsonLinesProcess, int]]]


@pytest.fixture
async def processes(nursery: trio.Nursery) -> AsyncIterator[ProcessGroup]:
    """Every peer process a test starts; this fixture's nursery outlives all their users."""
    group = ProcessGroup(nursery)
    try:
        yield group
    finally:
        await group.stop_all()


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
