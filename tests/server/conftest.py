"""Shared setup for server tests: cheap password hashes, small configs, a running server
on 127.0.0.1 port 0 with the fake sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from smsswitch.config import ListenerConfig, ServerConfig, TenantConfig
from smsswitch.passwords import hash_password
from smsswitch.server.listener import TenantServer
from smsswitch.server.tenants import TenantDirectory
from tests.server.fakes import FakeSink, RawClient

PASSWORD = "secret"
# Real scrypt, tiny cost: the stored parameters travel with the hash, so verify stays cheap.
FAST_HASH = hash_password(PASSWORD, n=2**4)

DEST = "4915112345678"  # valid German mobile
DEST_NATIONAL_ZW = "0771234567"  # valid in the tenants' default region (ZW)


def make_tenant(system_id: str = "acme", **overrides: Any) -> TenantConfig:
    values: dict[str, Any] = dict(
        name=system_id, system_id=system_id, password_hash=FAST_HASH, default_region="ZW", window=10,
    )
    values.update(overrides)
    return TenantConfig(**values)


def make_config(**overrides: Any) -> ServerConfig:
    values: dict[str, Any] = dict(
        listeners=(ListenerConfig("127.0.0.1", 0),),
        failed_bind_delay=0.01,
        bind_timeout=5.0,
        response_timeout=2.0,
        enquire_link_interval=30.0,
        idle_timeout=60.0,
    )
    values.update(overrides)
    return ServerConfig(**values)


@attrs.define
class Running:
    server: TenantServer
    port: int
    sink: FakeSink
    addresses: list[tuple[str, int, bool]]

    async def client(self, port: int | None = None, **kwargs: Any) -> RawClient:
        return await RawClient.connect(port or self.port, **kwargs)

    async def bound(self, system_id: str = "acme", kind: str = "transceiver") -> RawClient:
        client = await self.client()
        response = await client.bind(system_id, PASSWORD, kind)
        assert response.command_status == 0, hex(response.command_status)
        return client


@asynccontextmanager
async def running_server(
    config: ServerConfig | None = None,
    tenants: list[TenantConfig] | None = None,
    sink: FakeSink | None = None,
) -> AsyncIterator[Running]:
    sink = sink or FakeSink()
    server = TenantServer(config or make_config(), TenantDirectory(tenants or [make_tenant()]), sink)
    async with trio.open_nursery() as nursery:
        addresses = await nursery.start(server.serve)
        try:
            yield Running(server, addresses[0][1], sink, addresses)
        finally:
            await server.shutdown(0.2)
