"""TLS at the daemon level, with trustme certificates: a tenant over a TLS listener, through the
switch, over a TLS connector to a TLS carrier and back (receipt); mutual TLS on a second
listener; and what must be refused: plaintext SMPP on a TLS port, a server certificate from an
unknown CA (tenant side and carrier side), a client without a certificate where one is required,
and a TLS peer that never finishes its handshake (bind_timeout). tests/server and tests/carrier
cover the same at their layer; here it is the daemon's configuration and wiring.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trustme

from smsswitch.client import SmppError, TenantClient
from smsswitch.config import TlsServerConfig
from smsswitch.harness import DaemonProcess, free_port
from smsswitch.smpp._state_table import Role
from smsswitch.smpp.pdu import BindTransceiver
from smsswitch.smpp.session import Session
from tests.faults.rig import DEST, SimRig, daemon_config, daemon_log_problems, metric, routes_with, start_daemon, stop_daemon

pytestmark = pytest.mark.timeout(90)


def issue(ca: trustme.CA, directory: Path, name: str, *hosts: str) -> tuple[str, str]:
    cert = ca.issue_cert(*(hosts or ("127.0.0.1", "localhost")))
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return str(cert_file), str(key_file)


@asynccontextmanager
async def tls_tenant(port: int, context: ssl.SSLContext, system_id: str = "demo",
                     password: str = "demopass") -> AsyncIterator[TenantClient]:
    """Like smsswitch.client.connect, over TLS."""
    stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=context, https_compatible=False)
    # Handshake before two tasks use the stream: when trio's lazy handshake fails in one of
    # them, the other waits for it for ever (trio 0.35 SSLStream; our connectors do the same).
    with trio.fail_after(10):
        await stream.do_handshake()
    client = TenantClient(stream, Session(Role.ESME, window=100, enquire_link_interval=None))
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(client._reader)  # noqa: SLF001
        with trio.fail_after(10):
            response = await client._request(BindTransceiver(system_id=system_id, password=password))  # noqa: SLF001
        if response.command_status:
            raise SmppError(response.command_status, "bind")
        try:
            yield client
            await client.unbind()
        finally:
            nursery.cancel_scope.cancel()


_FAILURES = (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError, SmppError, ConnectionError, OSError)


async def refused(port: int, context: ssl.SSLContext) -> str:
    """'' if no session could be had (the handshake or the bind failed), else what happened."""
    try:
        async with tls_tenant(port, context) as client:
            await client.submit(DEST, "should not pass", source="DEMO")
    except BaseExceptionGroup as group:  # noqa: F821 - builtin in 3.11
        _, rest = group.split(_FAILURES)  # split by type looks at the leaves of nested groups
        return "" if rest is None else repr(rest.exceptions)
    except _FAILURES:
        return ""
    return "a session was had"


def plaintext_bind(port: int) -> tuple[bytes, float]:
    """An SMPP bind in clear text to a TLS port: what comes back, and how fast it closed."""
    from smsswitch.smpp.codec import encode_pdu

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(encode_pdu(BindTransceiver(sequence_number=1, system_id="demo", password="demopass")))
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return data, time.monotonic() - started


async def test_tls_end_to_end_and_every_refusal(tmp_path: Path) -> None:
    ca, stranger = trustme.CA(), trustme.CA()
    server_cert, server_key = issue(ca, tmp_path, "switch")
    carrier_cert, carrier_key = issue(ca, tmp_path, "carrier")
    rogue_cert, rogue_key = issue(stranger, tmp_path, "rogue")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client_cert = ca.issue_cert("tenant.example")
    tls_port, mtls_port = free_port(), free_port()
    async with trio.open_nursery() as nursery:
        carrier = SimRig(nursery, tls=TlsServerConfig(carrier_cert, carrier_key))
        rogue = SimRig(nursery, tls=TlsServerConfig(rogue_cert, rogue_key))  # a carrier we must not trust
        await carrier.start()
        await rogue.start()
        config = daemon_config(
            tmp_path, {"rogue": rogue.port, "carrier": carrier.port}, routes_with(["rogue", "carrier"]),
            server={"bind_timeout": 3, "listeners": [
                {"host": "127.0.0.1", "port": tls_port, "tls": {"cert_file": server_cert, "key_file": server_key}},
                {"host": "127.0.0.1", "port": mtls_port, "tls": {"cert_file": server_cert, "key_file": server_key,
                                                                  "client_ca_file": str(ca_file)}},
            ]},
        )  # fmt: skip
        import yaml

        data = yaml.safe_load(config.read_text())
        for name in ("rogue", "carrier"):
            data["connectors"][name]["tls"] = {"ca_file": str(ca_file), "server_hostname": "127.0.0.1"}
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        daemon = DaemonProcess(config)
        try:
            await start_daemon(daemon)
            trusting = ssl.create_default_context()
            ca.configure_trust(trusting)
            # 1. End to end over TLS on both sides: the rogue carrier's certificate is refused,
            #    so the route fails over to the trusted one and the receipt comes back.
            async with tls_tenant(tls_port, trusting) as client:
                ids = await client.submit(DEST, "over tls", source="DEMO")
                delivered = await client.next_delivery(20)
                assert delivered is not None and delivered.receipted_message_id == ids[0]
            assert sum(carrier.texts().values()) == 1 and rogue.stat("binds") == 0
            assert await metric(daemon, "smsswitch_connector_sessions_bound", connector="rogue") == 0
            assert "certificate verify failed" in daemon.log_path.read_text()
            # 2. Plaintext SMPP on the TLS port: no bind_resp, closed at once (not at bind_timeout).
            answer, took = await trio.to_thread.run_sync(plaintext_bind, tls_port)
            not_smpp = len(answer) < 16 or answer[4:8] != b"\x80\x00\x00\x09"  # no bind_transceiver_resp
            assert not_smpp and took < 2.5, (answer[:40], took)
            # 3. A tenant that trusts another CA refuses the switch's certificate.
            wary = ssl.create_default_context()
            stranger.configure_trust(wary)
            assert not (why := await refused(tls_port, wary)), why
            # 4. Mutual TLS: no client certificate, no session; with one from the CA, a bind.
            assert not (why := await refused(mtls_port, trusting)), why
            holder = ssl.create_default_context()
            ca.configure_trust(holder)
            client_cert.configure_cert(holder)
            async with tls_tenant(mtls_port, holder) as client:
                assert await client.submit(DEST, "with client cert", source="DEMO")
            # 5. A TLS peer that connects and never finishes the handshake is cut at bind_timeout.
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as sock:
                sock.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
                closed = await trio.to_thread.run_sync(lambda: sock.recv(1) == b"")
            assert closed and time.monotonic() - started < 3 + 2
            assert not daemon_log_problems(daemon)
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            carrier.stop()
            rogue.stop()
            nursery.cancel_scope.cancel()
