"""A real HTTP endpoint for webhook tests: hypercorn on 127.0.0.1 serving a tiny ASGI app
that records every request and answers what the test's `respond` says."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from smsswitch.http.app import serve_http


@attrs.define
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Respond = Callable[[Seen], Awaitable[tuple[int, dict[str, str]]]]


async def ok(_seen: Seen) -> tuple[int, dict[str, str]]:
    return 200, {}


class Receiver:
    def __init__(self, respond: Respond = ok) -> None:
        self.respond = respond
        self.seen: list[Seen] = []
        self.port = 0
        self._changed = trio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = Seen(scope["path"], {k.decode().lower(): v.decode() for k, v in scope["headers"]}, body)
        self.seen.append(seen)
        self._changed.set()
        self._changed = trio.Event()
        status, headers = await self.respond(seen)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b"{}"})

    async def start(self, nursery: trio.Nursery) -> Receiver:
        self.port = await nursery.start(serve_http, self, "127.0.0.1", 0)
        return self

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Seen]:
        with trio.fail_after(timeout):
            while len(self.seen) < count:
                await self._changed.wait()
        return self.seen


def scripted(*answers: int | tuple[int, dict[str, str]] | float) -> Respond:
    """Answer requests in turn: a status, (status, headers), or a float = hang that long
    then 200. After the script, 200."""
    queue = list(answers)

    async def respond(_seen: Seen) -> tuple[int, dict[str, str]]:
        if not queue:
            return 200, {}
        answer = queue.pop(0)
        if isinstance(answer, float):
            await trio.sleep(answer)
            return 200, {}
        return answer if isinstance(answer, tuple) else (answer, {})

    return respond
