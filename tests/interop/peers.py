"""Finding the third-party peers and running them as JSON-lines subprocesses under trio.

Every peer script prints one JSON object per line on stdout; `JsonLinesProcess` collects
them so a test can wait for "the event that says X" with a deadline, and always stops the
process (terminate, then kill) when the test ends, whatever happened.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
PERL_DIR = HERE / "perl"
KANNEL_DIR = HERE / "kannel"
REPO = HERE.parent.parent
INSTALL_HINT = "run scripts/install_interop_peers"

Event = dict[str, Any]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_peer(what: str) -> None:
    """A peer is not installed: a failure in CI (it must be installed there), a skip elsewhere."""
    message = f"{what} is not installed ({INSTALL_HINT})"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_node_smpp() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "smpp" / "package.json").is_file():
        missing_peer("node-smpp (npm package smpp in tests/interop/node)")
    return node  # type: ignore[return-value]


def require_net_smpp() -> str:
    perl = shutil.which("perl")
    if perl is None or subprocess.run([perl, "-MNet::SMPP", "-e", "1"], capture_output=True).returncode:
        missing_peer("Net::SMPP (Debian package libnet-smpp-perl)")
    return perl  # type: ignore[return-value]


def require_kannel() -> tuple[str, str]:
    found = [shutil.which(name) or f"/usr/sbin/{name}" for name in ("bearerbox", "smsbox")]
    if not all(os.access(path, os.X_OK) for path in found):
        missing_peer("Kannel (Debian package kannel)")
    return found[0], found[1]


#: Process groups started and not yet seen to exit; `kill_leftovers` ends them (e.g. after
#: pytest-timeout interrupted a test before its fixtures could stop them).
_LIVE_GROUPS: set[int] = set()


def kill_leftovers() -> None:
    for pgid in list(_LIVE_GROUPS):
        _signal_group(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


atexit.register(kill_leftovers)


class PeerFailed(AssertionError):
    """A peer process died, or an awaited event did not come; carries the peer's output."""


class JsonLinesProcess:
    """A subprocess printing JSON lines; events are kept in order, non-JSON lines as `log`."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path | None = None,
                 env: dict[str, str] | None = None, exits_on_eof: bool = True) -> None:
        """`exits_on_eof`: the program ends when its stdin closes (our node scripts); others
        (Kannel, the daemon) are stopped with SIGTERM straight away."""
        self.name = name
        self.exits_on_eof = exits_on_eof
        self.argv = list(argv)
        self.cwd = cwd
        self.env = env
        self.events: list[Event] = []
        self.log: list[str] = []
        self.stderr = bytearray()
        self.exited = trio.Event()
        self.returncode: int | None = None
        self._changed = trio.Event()
        self._stdout_done = trio.Event()
        self._process: trio.Process | None = None

    async def start(self, nursery: trio.Nursery) -> None:
        self._process = await trio.lowlevel.open_process(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,  # its own process group: stopping it stops its children
        )
        _LIVE_GROUPS.add(self._process.pid)
        nursery.start_soon(self._read_stdout)
        nursery.start_soon(self._read_stderr)
        nursery.start_soon(self._watch_exit)

    async def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        pending = b""
        async for chunk in self._process.stdout:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._take_line(line.decode("utf-8", "replace"))
            self._notify()
        self._stdout_done.set()

    def _take_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            event = json.loads(line)
        except ValueError:
            self.log.append(line)
            return
        if isinstance(event, dict):
            self.events.append(event)
        else:
            self.log.append(line)

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        async for chunk in self._process.stderr:
            self.stderr += chunk[: max(0, 200_000 - len(self.stderr))]

    async def _watch_exit(self) -> None:
        assert self._process is not None
        returncode = await self._process.wait()
        _LIVE_GROUPS.discard(self._process.pid)
        with trio.move_on_after(2):  # the last lines it printed are still in the pipe
            await self._stdout_done.wait()
        self.returncode = returncode
        self.exited.set()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def send(self, command: Event) -> None:
        """Write one JSON command line to the peer's stdin."""
        assert self._process is not None and self._process.stdin is not None
        await self._process.stdin.send_all((json.dumps(command) + "\n").encode())

    def find(self, event: str, where: Callable[[Event], bool] | None = None) -> list[Event]:
        return [e for e in self.events if e.get("event") == event and (where is None or where(e))]

    async def wait_for(self, event: str, where: Callable[[Event], bool] | None = None,
                       count: int = 1, timeout: float = 10.0) -> list[Event]:
        """The first `count` events named `event` (matching `where`), waiting up to `timeout`."""
        with trio.move_on_after(timeout):
            while True:
                found = self.find(event, where)
                if len(found) >= count:
                    return found[:count]
                if self.exited.is_set():
                    raise PeerFailed(f"{self.name} exited ({self.returncode}) before {count}x "
                                     f"{event!r}\n{self.describe()}")
                await self._changed.wait()
        raise PeerFailed(f"no {count}x {event!r} from {self.name} within {timeout}s\n{self.describe()}")

    async def wait_exit(self, timeout: float) -> int:
        with trio.move_on_after(timeout):
            await self.exited.wait()
            assert self.returncode is not None
            return self.returncode
        raise PeerFailed(f"{self.name} still running after {timeout}s\n{self.describe()}")

    async def stop(self, grace: float = 3.0) -> None:
        """Close stdin (our scripts exit on EOF), then SIGTERM, then SIGKILL the group."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with trio.CancelScope(shield=True):
            if process.stdin is not None:
                with trio.move_on_after(0.5):
                    await process.stdin.aclose()
            steps = [(signal.SIGTERM, grace), (signal.SIGKILL, 5.0)]
            if self.exits_on_eof:
                steps.insert(0, (None, grace / 2))
            for sig, wait in steps:
                if sig is not None:
                    _signal_group(process.pid, sig)
                with trio.move_on_after(wait):
                    await process.wait()
                    break
            _signal_group(process.pid, signal.SIGKILL)  # any child it left behind
            _LIVE_GROUPS.discard(process.pid)

    def describe(self) -> str:
        tail = "\n".join(json.dumps(e) for e in self.events[-30:])
        logs = "\n".join(self.log[-30:])
        err = self.stderr[-4000:].decode("utf-8", "replace")
        return f"--- {self.name} events (last 30) ---\n{tail}\n--- log ---\n{logs}\n--- stderr ---\n{err}"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class ProcessGroup:
    """Peer processes of one test: started in one nursery, all stopped by `stop_all`."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.started: list[JsonLinesProcess] = []

    async def start(self, process: JsonLinesProcess) -> JsonLinesProcess:
        self.started.append(process)
        await process.start(self.nursery)
        return process

    async def stop_all(self) -> None:
        with trio.CancelScope(shield=True):
            for process in reversed(self.started):
                await process.stop()
