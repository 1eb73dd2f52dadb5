"""Just enough HTTP for the interop tests: a GET client, and a receiver that records the
requests a peer makes to it (Kannel's dlr-url and MO get-url).

HTTP/1.0 with one request per connection is all Kannel needs, and it keeps the tests free
of an HTTP library dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio


@attrs.frozen
class Request:
    method: str
    path: str
    query: dict[str, str]  # the last value of each parameter, percent-decoded as UTF-8
    raw_target: str

    def octets(self, name: str) -> bytes:
        """A parameter's percent-decoded octets (Kannel sends UCS2 text as raw octets)."""
        query = urlsplit(self.raw_target).query
        values = parse_qs(query, keep_blank_values=True, encoding="latin-1").get(name, [""])
        return values[-1].encode("latin-1")


async def http_get(port: int, target: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET http://127.0.0.1:port<target>; returns (status, body). Raises OSError/TooSlow."""
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(f"GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            data = bytearray()
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 else 0
    return status, body.decode("utf-8", "replace")


class HttpReceiver:
    """Records every request; answers 200 with an empty body. Run `serve` in a nursery."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.port = 0
        self._changed = trio.Event()

    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            data = bytearray()
            with trio.move_on_after(5):
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        break
                    data += chunk
            line = bytes(data).split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            if len(parts) >= 2:
                target = parts[1]
                split = urlsplit(target)
                query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                self.requests.append(Request(parts[0], split.path, query, target))
                self._changed.set()
                self._changed = trio.Event()
            try:
                await stream.send_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except trio.BrokenResourceError:
                pass

    def find(self, path: str, where: Callable[[Request], bool] | None = None) -> list[Request]:
        return [r for r in self.requests if r.path == path and (where is None or where(r))]

    async def wait_for(self, path: str, where: Callable[[Request], bool] | None = None,
                       count: int = 1, timeout: float = 15.0) -> list[Request]:
        with trio.move_on_after(timeout):
            while len(self.find(path, where)) < count:
                await self._changed.wait()
            return self.find(path, where)[:count]
        raise AssertionError(f"no {count}x request to {path} within {timeout}s; got {self.requests!r}")
