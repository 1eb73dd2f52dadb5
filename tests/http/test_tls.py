"""The HTTP edge over TLS when given a certificate (hypercorn's certfile/keyfile)."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import trio
import trustme
from prometheus_client import CollectorRegistry

from smsswitch.http.app import EdgeApp, Readiness, serve_http
from smsswitch.http.openapi import openapi_document


async def test_https_when_configured(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))

    async def api(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with trio.open_nursery() as nursery:
        app = EdgeApp(CollectorRegistry(), Readiness(), api=api)
        port = await nursery.start(lambda task_status: serve_http(
            app, "127.0.0.1", 0, certfile=str(certfile), keyfile=str(keyfile), task_status=task_status))  # fmt: skip
        async with httpx.AsyncClient(verify=client_context, trust_env=False) as http:
            assert (await http.get(f"https://127.0.0.1:{port}/healthz")).text == "ok\n"
            assert (await http.get(f"https://127.0.0.1:{port}/v1/anything")).json() == {}
        async with httpx.AsyncClient(trust_env=False) as plain:
            try:
                await plain.get(f"https://127.0.0.1:{port}/healthz")
                raise AssertionError("an unknown CA must be refused")
            except httpx.ConnectError:
                pass
        nursery.cancel_scope.cancel()
    assert openapi_document()["openapi"].startswith("3.")
