"""SMPP over TLS: the connector verifies the carrier with the configured CA."""

from __future__ import annotations

from pathlib import Path

import trio
import trustme

from smsswitch.carrier.connector import Connector
from smsswitch.config import TlsClientConfig, TlsServerConfig

from tests.carrier.conftest import FakeSink, connector_config, eventually, make_job, start_sim


def _tls_files(tmp_path: Path) -> tuple[TlsServerConfig, str, str]:
    ca = trustme.CA()
    server_pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    other_pem = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_pem))
    return TlsServerConfig(cert_file=str(server_pem), key_file=str(server_pem)), str(ca_pem), str(other_pem)


async def test_tls_connector_binds_and_submits(sink: FakeSink, tmp_path: Path) -> None:
    server_tls, ca_file, _ = _tls_files(tmp_path)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, tls=server_tls)
            config = connector_config(sim.port, tls=TlsClientConfig(ca_file=ca_file))
            connector = Connector(config, sink)
            nursery.start_soon(connector.run)
            for i in range(5):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.accepted()) == 5 and len(sink.delivers) == 5)
            assert await connector.stop(1.0) == []
            nursery.cancel_scope.cancel()


async def test_tls_with_the_wrong_ca_never_binds(sink: FakeSink, tmp_path: Path) -> None:
    server_tls, _, other_ca = _tls_files(tmp_path)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, tls=server_tls)
            config = connector_config(sim.port, tls=TlsClientConfig(ca_file=other_ca))
            connector = Connector(config, sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().bind_failures >= 2)
            assert sim.stats()["binds"] == 0 and connector.health().sessions_bound == 0
            nursery.cancel_scope.cancel()
