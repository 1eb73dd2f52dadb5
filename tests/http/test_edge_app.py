"""The metrics/health edge served for real by hypercorn on 127.0.0.1."""

import trio
from prometheus_client import CollectorRegistry, Counter

from smsswitch.http.app import EdgeApp, Readiness, serve_http


async def http_get(port: int, path: str) -> tuple[int, str]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def test_metrics_health_and_readiness() -> None:
    registry = CollectorRegistry()
    submits = Counter("smsswitch_test_submits", "test counter", registry=registry)
    readiness = Readiness()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, EdgeApp(registry, readiness), "127.0.0.1", 0)
            assert await http_get(port, "/healthz") == (200, "ok\n")
            assert (await http_get(port, "/readyz"))[0] == 503
            readiness.set(True, "ready")
            assert await http_get(port, "/readyz") == (200, "ready\n")
            submits.inc(3)
            status, body = await http_get(port, "/metrics")
            assert status == 200 and "smsswitch_test_submits_total 3.0" in body
            assert (await http_get(port, "/nope"))[0] == 404
            nursery.cancel_scope.cancel()
