"""Keepalive, idle timeout, TLS, graceful shutdown and tenant reload."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trio
import trustme

from smsswitch.config import ListenerConfig, TlsServerConfig
from smsswitch.passwords import hash_password
from smsswitch.server.tenants import TenantDirectory
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import EnquireLink, EnquireLinkResp, SubmitSm, SubmitSmResp, Unbind, UnbindResp
from tests.server.conftest import DEST, PASSWORD, make_config, make_tenant, running_server
from tests.server.fakes import FakeSink, RawClient


def sms() -> SubmitSm:
    return SubmitSm(source_addr="Brand", source_addr_ton=5, destination_addr=DEST, dest_addr_ton=1)


async def test_server_enquires_a_quiet_bind_and_keeps_it() -> None:
    config = make_config(enquire_link_interval=0.2, idle_timeout=5.0)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.bound()
            for _ in range(2):
                probe = await client.recv()
                assert isinstance(probe, EnquireLink)
                await client.send(EnquireLinkResp(sequence_number=probe.sequence_number))
            assert (await client.request(sms())).command_status == S.ESME_ROK


async def test_unanswered_enquire_link_closes() -> None:
    config = make_config(enquire_link_interval=0.2, response_timeout=0.2, idle_timeout=5.0)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.bound(kind="transmitter")
            assert isinstance(await client.recv(), EnquireLink)
            assert await client.recv() is None


async def test_idle_session_is_unbound_and_closed() -> None:
    config = make_config(enquire_link_interval=30.0, idle_timeout=0.3)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.bound()
            unbind = await client.recv()
            assert isinstance(unbind, Unbind)
            await client.send(UnbindResp(sequence_number=unbind.sequence_number))
            assert await client.recv() is None
            with trio.fail_after(2):
                while run.server.stats()["binds"]:
                    await trio.sleep(0.01)


async def test_idle_session_that_ignores_unbind_is_closed_anyway() -> None:
    config = make_config(enquire_link_interval=30.0, idle_timeout=0.2, response_timeout=0.2)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.bound()
            assert isinstance(await client.recv(), Unbind)
            assert await client.recv() is None


def _tls_files(tmp_path: Path) -> tuple[trustme.CA, TlsServerConfig]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    return ca, TlsServerConfig(str(cert_file), str(key_file))


async def test_tls_listener_binds_and_refuses_plaintext(tmp_path: Path) -> None:
    ca, tls = _tls_files(tmp_path)
    config = make_config(listeners=(ListenerConfig("127.0.0.1", 0), ListenerConfig("127.0.0.1", 0, tls)))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with trio.fail_after(10):
        async with running_server(config) as run:
            (_, plain_port, plain_tls), (_, tls_port, is_tls) = run.addresses
            assert (plain_tls, is_tls) == (False, True)
            secure = await RawClient.connect(tls_port, client_context)
            assert (await secure.bind("acme", PASSWORD)).command_status == S.ESME_ROK
            assert (await secure.request(sms())).command_status == S.ESME_ROK
            plaintext = await RawClient.connect(tls_port)
            await plaintext.send_bytes(b"\x00\x00\x00\x10\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x01")
            assert await plaintext.recv() is None  # handshake fails, connection closed
            other = await RawClient.connect(plain_port)
            assert (await other.bind("acme", PASSWORD)).command_status == S.ESME_ROK


async def test_shutdown_answers_in_flight_then_unbinds() -> None:
    sink = FakeSink()
    sink.gate = trio.Event()
    with trio.fail_after(10):
        async with running_server(sink=sink) as run:
            client = await run.bound()
            await client.send(sms())
            with trio.fail_after(2):
                while sink.in_flight == 0:
                    await trio.sleep(0.01)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run.server.shutdown, 5.0)
                await trio.sleep(0.1)
                sink.gate.set()  # the core finishes; the answer goes out before the unbind
                answer = await client.recv()
                assert isinstance(answer, SubmitSmResp) and answer.command_status == S.ESME_ROK
                unbind = await client.recv()
                assert isinstance(unbind, Unbind)
                await client.send(UnbindResp(sequence_number=unbind.sequence_number))
                assert await client.recv() is None
            with pytest.raises(OSError):  # the listener is closed
                await run.client()


async def test_reload_changes_limits_of_live_binds_and_credentials_of_new_ones() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            live = await run.bound()
            assert (await live.request(sms())).command_status == S.ESME_ROK
            new_hash = hash_password("newpass", n=2**4)
            run.server.reload_tenants(TenantDirectory([make_tenant(password_hash=new_hash, bind_tps=1.0)]))
            statuses = []
            for _ in range(3):
                statuses.append((await live.request(sms())).command_status)
            assert statuses.count(S.ESME_RTHROTTLED) >= 1  # the new rate applies to the live bind
            old = await run.client()
            assert (await old.bind("acme", PASSWORD)).command_status == S.ESME_RINVPASWD
            new = await run.client()
            assert (await new.bind("acme", "newpass")).command_status == S.ESME_ROK
            assert (await live.request(EnquireLink())).command_status == S.ESME_ROK  # still up
