"""The daemon's HTTP edge: Prometheus /metrics, /healthz and /readyz, served by hypercorn on trio.

/healthz answers 200 while the event loop runs (if it answers at all, the loop is alive);
/readyz answers 200 only once the journal is replayed and the listeners are up, and 503 while
starting or draining — what a load balancer should use.

The ASGI app is plain (no framework) because it has three routes; the REST API
(smsswitch.http.api.RestApi, Starlette) is mounted beside it: every other path goes there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Readiness:
    """Shared flag the daemon flips: ready after start-up, not ready while draining."""

    def __init__(self) -> None:
        self.ready = False
        self.reason = "starting"

    def set(self, ready: bool, reason: str) -> None:
        self.ready, self.reason = ready, reason


class EdgeApp:
    """ASGI app: /metrics from `registry`, /healthz, /readyz from `readiness`."""

    def __init__(self, registry: CollectorRegistry, readiness: Readiness, api: Any = None) -> None:
        self.registry = registry
        self.readiness = readiness
        self.api = api  # an ASGI app for every other path (the REST API), or None: 404

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            await _respond(send, 200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            await _respond(send, 200, b"ok\n")
        elif path == "/readyz":
            ready = self.readiness.ready
            await _respond(send, 200 if ready else 503, (self.readiness.reason + "\n").encode())
        elif self.api is not None:
            await self.api(scope, receive, send)
        else:
            await _respond(send, 404, b"not found\n")


async def _respond(send: Send, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve_http(
    app: Any, host: str, port: int, *, certfile: str | None = None, keyfile: str | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` on host:port until cancelled (HTTPS when given a certificate and key);
    reports the bound port (port 0 picks one)."""
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    if certfile is not None:
        config.certfile, config.keyfile = certfile, keyfile
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    # hypercorn reports the bound addresses through task_status as a list of URLs.

    async def run(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await serve(app, config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(run)
        task_status.started(int(urls[0].rsplit(":", 1)[1]))
