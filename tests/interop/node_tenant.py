"""Driving tests/interop/node/tenant.js (node-smpp as a tenant) from a test, one PDU at a time."""

from __future__ import annotations

import itertools
from typing import Any

from tests.interop.peers import NODE_DIR, JsonLinesProcess, PeerFailed, ProcessGroup, require_node_smpp

Pdu = dict[str, Any]


class NodeTenant:
    def __init__(self, process: JsonLinesProcess) -> None:
        self.process = process
        self._tags = itertools.count(1)

    @classmethod
    async def start(cls, processes: ProcessGroup, port: int) -> NodeTenant:
        node = require_node_smpp()
        process = await processes.start(
            JsonLinesProcess("node-smpp tenant", [node, "tenant.js"], cwd=NODE_DIR))
        tenant = cls(process)
        await process.send({"cmd": "connect", "host": "127.0.0.1", "port": port})
        await process.wait_for("connected", timeout=10)
        return tenant

    async def request(self, command: str, timeout: float = 10.0, **fields: Any) -> Pdu:
        """Send one request PDU; returns node-smpp's view of the response."""
        tag = f"{command}-{next(self._tags)}"
        await self.process.send({"cmd": "send", "tag": tag, "command": command, "fields": fields})
        (resp,) = await self.process.wait_for("resp", lambda e: e["tag"] == tag, timeout=timeout)
        return resp["pdu"]

    async def bind(self, system_id: str, password: str, command: str = "bind_transceiver") -> Pdu:
        return await self.request(command, system_id=system_id, password=password)

    def received(self, command: str = "deliver_sm") -> list[Pdu]:
        return [e["pdu"] for e in self.process.find("pdu") if e["pdu"]["command"] == command]

    async def wait_received(self, count: int = 1, command: str = "deliver_sm", timeout: float = 15.0,
                            where: Any = None) -> list[Pdu]:
        found = await self.process.wait_for(
            "pdu", lambda e: e["pdu"]["command"] == command and (where is None or where(e["pdu"])),
            count=count, timeout=timeout,
        )
        return [e["pdu"] for e in found]

    async def wait_closed(self, timeout: float = 5.0) -> None:
        await self.process.wait_for("closed", timeout=timeout)

    async def set_deliver_status(self, status: int) -> None:
        await self.process.send({"cmd": "deliver_status", "status": status})


def receipt_of(deliveries: list[Pdu], message_id: str) -> Pdu:
    """The receipt deliver_sm for `message_id` among those a tenant received."""
    for pdu in deliveries:
        if pdu.get("receipted_message_id") == message_id or f"id:{message_id} " in (
            pdu.get("short_message", {}).get("text") or ""
        ):
            return pdu
    raise PeerFailed(f"no receipt for {message_id} in {deliveries!r}")
