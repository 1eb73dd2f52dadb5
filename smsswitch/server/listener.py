"""TenantServer: the TCP/TLS listeners tenants bind to, connection caps, reload, shutdown.

Connections run in a nursery of their own, apart from the accept loops, so shutdown can
stop accepting first and still unbind every live tenant politely within the grace period.

Example (what the daemon does)::

    server = TenantServer(config.server, TenantDirectory(config.tenants), core)
    async with trio.open_nursery() as nursery:
        addresses = await nursery.start(server.serve)   # [(host, port, tls), ...]
        ...                                              # on SIGHUP: server.reload_tenants(...)
        await server.shutdown(grace=5.0)                 # serve() returns after this
"""

from __future__ import annotations

import socket
import ssl
from collections import Counter
from typing import Any

import structlog
import trio

from smsswitch.config import ListenerConfig, ServerConfig, TlsServerConfig
from smsswitch.server.api import TenantSink
from smsswitch.server.auth import FailedBindTracker
from smsswitch.server.connection import ConnectionContext, TenantConnection
from smsswitch.server.registry import BindRegistry
from smsswitch.server.stats import ServerStats
from smsswitch.server.tenants import TenantDirectory

__all__ = ["TenantServer", "server_ssl_context"]

log = structlog.get_logger("smsswitch.server")

#: Concurrent scrypt checks during a bind storm (each takes ~15 ms and 16 MiB).
_PASSWORD_CHECKS = 4


def server_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """TLS 1.2+ server context from the listener's cert/key (client certs if a CA is set)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file:
        context.load_verify_locations(tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _socket_of(stream: trio.abc.Stream) -> trio.socket.SocketType:
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    return stream.socket  # type: ignore[attr-defined,no-any-return]


class TenantServer:
    """The tenant-facing SMPP server; see the module docstring for its life."""

    def __init__(
        self, config: ServerConfig, tenants: TenantDirectory, sink: TenantSink, *, system_id: str = "smsswitch"
    ) -> None:
        self.config = config
        self.registry = BindRegistry(tenants)
        self._stats = ServerStats()
        self._ctx = ConnectionContext(
            config=config,
            registry=self.registry,
            sink=sink,
            failures=FailedBindTracker(config.failed_binds_per_ip_per_minute),
            hash_limiter=trio.CapacityLimiter(_PASSWORD_CHECKS),
            stats=self._stats,
            system_id=system_id,
        )
        self.addresses: list[tuple[str, int, bool]] = []
        self._connections: set[TenantConnection] = set()
        self._per_ip: Counter[str] = Counter()
        self._accept_scope: trio.CancelScope | None = None
        self._connection_scope: trio.CancelScope | None = None
        self._shutting_down = False

    # ------------------------------------------------------------ serving

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on every configured listener; reports [(host, port, tls)] once bound.
        Returns after `shutdown` has closed every connection."""
        async with trio.open_nursery() as connections:
            self._connection_scope = connections.cancel_scope
            async with trio.open_nursery() as accepting:
                self._accept_scope = accepting.cancel_scope
                for listener_config in self.config.listeners:
                    listeners = await self._open(listener_config)
                    for listener in listeners:
                        accepting.start_soon(self._accept, listener, connections)
                task_status.started(list(self.addresses))

    async def _open(self, listener_config: ListenerConfig) -> list[trio.abc.Listener[Any]]:
        tcp = await trio.open_tcp_listeners(listener_config.port, host=listener_config.host)
        tls = listener_config.tls
        for listener in tcp:
            host, port = listener.socket.getsockname()[:2]
            self.addresses.append((host, port, tls is not None))
            log.info("listening", host=host, port=port, tls=tls is not None)
        if tls is None:
            return list(tcp)
        context = server_ssl_context(tls)
        return [trio.SSLListener(listener, context, https_compatible=False) for listener in tcp]

    async def _accept(self, listener: trio.abc.Listener[Any], connections: trio.Nursery) -> None:
        await trio.serve_listeners(self._handle, [listener], handler_nursery=connections)

    async def _handle(self, stream: trio.abc.Stream) -> None:
        try:
            sock = _socket_of(stream)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer_host, peer_port = sock.getpeername()[:2]
        except OSError:
            await trio.aclose_forcefully(stream)
            return
        refusal = self._over_limit(peer_host)
        if refusal:
            self._stats.refusals[refusal] += 1
            log.info("connection_refused", peer=f"{peer_host}:{peer_port}", reason=refusal)
            await trio.aclose_forcefully(stream)
            return
        connection = TenantConnection(stream, peer_host, peer_port, self._ctx)
        self._connections.add(connection)
        self._per_ip[peer_host] += 1
        self._stats.connections_accepted += 1
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            self._per_ip[peer_host] -= 1
            if self._per_ip[peer_host] <= 0:
                del self._per_ip[peer_host]

    def _over_limit(self, peer_host: str) -> str:
        if self._shutting_down:
            return "shutting_down"
        if len(self._connections) >= self.config.max_connections:
            return "max_connections"
        if self._per_ip[peer_host] >= self.config.max_connections_per_ip:
            return "max_connections_per_ip"
        return ""

    # ------------------------------------------------------------ control

    def reload_tenants(self, tenants: TenantDirectory) -> None:
        """SIGHUP: new credentials for new binds; new limits for live binds too."""
        self.registry.reload(tenants)
        log.info("tenants_reloaded", tenants=len(tenants))

    async def shutdown(self, grace: float) -> None:
        """Stop accepting, unbind every tenant politely (in-flight submits answered first),
        wait up to `grace` for them to go, then close whatever is left."""
        self._shutting_down = True
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        connections = list(self._connections)
        log.info("server_shutdown", connections=len(connections), grace=grace)
        for connection in connections:
            connection.begin_shutdown()
        with trio.move_on_after(grace):
            for connection in connections:
                await connection.done.wait()
        if self._connection_scope is not None:
            self._connection_scope.cancel()

    def stats(self) -> dict[str, Any]:
        """Counters and gauges for metrics: binds by tenant and type, connections,
        refusals by reason, submits by status, deliveries."""
        return self._stats.snapshot(
            connections=len(self._connections),
            binds=self.registry.binds_by_tenant_and_type(),
        )
