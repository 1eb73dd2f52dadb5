"""What the fault tests share: a carrier simulator that lives in the test's trio loop (so it
survives daemon kills and can be restarted on its port), a tenant that keeps submitting through
kills and reconnects, the daemon as a subprocess, and /proc readings.

Everything listens on 127.0.0.1; every loop is bounded in count and time; every process and
socket opened here is closed by its owner's `finally`/context manager.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from smsswitch.carrier.sim_model import MessageIds
from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.client import SmppError, TenantClient, connect
from smsswitch.config import SimulatorConfig
from smsswitch.harness import DaemonProcess, free_port, write_config
from smsswitch.journal.journal import Journal
from smsswitch.smpp.constants import Tag

DEST = "+263771234567"
#: Carrier ids of each simulator instance start in their own range: a restarted carrier must
#: not hand out the ids its previous life used (the real ones do not either).
_ID_RANGES = itertools.count(0x10000000, 0x01000000)


class RecordingSimulator(CarrierSimulator):
    """The carrier simulator, also remembering which receipts the switch acknowledged."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self._ids = MessageIds(config.id_format, start=next(_ID_RANGES))
        self.receipts_acked: list[str] = []

    def _count_delivered(self, item: Any) -> None:
        super()._count_delivered(item)
        if item.kind == "receipt":
            self.receipts_acked.append(str(item.pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID)))


class SimRig:
    """One carrier account's simulator in the test's nursery; `restart()` is a carrier that
    goes down and comes back on the same port. Counts add up over every life."""

    def __init__(self, nursery: trio.Nursery, **config: Any) -> None:
        self.nursery = nursery
        config.setdefault("port", free_port())
        config.setdefault("receipt_delay", 0.05)
        self.config = SimulatorConfig(enabled=True, host="127.0.0.1", **config)
        self.lives: list[RecordingSimulator] = []

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def sim(self) -> RecordingSimulator:
        return self.lives[-1]

    async def start(self, **changes: Any) -> None:
        if changes:
            self.config = attrs.evolve(self.config, **changes)
        sim = RecordingSimulator(self.config)
        self.lives.append(sim)
        await self.nursery.start(sim.serve)

    def stop(self) -> None:
        if self.lives:
            self.sim.stop()

    async def restart(self, down_for: float = 0.5, **changes: Any) -> None:
        self.stop()
        await trio.sleep(down_for)
        await self.start(**changes)

    def texts(self) -> Counter[str]:
        """How many times the carrier accepted each text, over every life."""
        return Counter(entry["text"] for sim in self.lives for entry in sim.received())

    def acked_receipt_texts(self) -> list[str]:
        """The text of every message whose receipt the switch acknowledged."""
        out = []
        for sim in self.lives:
            by_id = {entry["message_id"]: entry["text"] for entry in sim.received()}
            out += [by_id[carrier_id] for carrier_id in sim.receipts_acked if carrier_id in by_id]
        return out

    def stat(self, key: str) -> int:
        return sum(int(sim.stats()[key]) for sim in self.lives)


def daemon_config(directory: Path, connectors: dict[str, int], routes: str | None = None,
                  **overrides: Any) -> Path:
    """The example config without its embedded simulator, with connectors named in
    `connectors` (name -> port of a SimRig) that notice trouble within seconds."""
    quick = {
        "host": "127.0.0.1", "system_id": "sim", "password": "simpass", "bind_mode": "transceiver",
        "sessions": 2, "window": 50, "response_timeout": 2, "enquire_link_interval": 2,
        "reconnect_initial": 0.1, "reconnect_max": 0.5, "max_attempts": 5, "failover_after": 2,
    }
    conns = {name: dict(quick, port=port) for name, port in connectors.items()}
    changes: dict[str, Any] = {"simulator": {"enabled": False}, "connectors": conns}
    for key, value in overrides.items():
        changes[key] = value
    path = write_config(directory, changes, routes)
    if "sim" not in connectors:  # write_config merges into the example's "sim" connector: drop it
        import yaml

        data = yaml.safe_load(path.read_text())
        data["connectors"] = conns
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def routes_with(connectors: list[str]) -> str:
    """A route table sending everything of demo/acme to `connectors` in failover order."""
    return (
        "version: 1\n"
        "mt:\n"
        f"  - name: all\n    match: {{tenants: [demo, acme]}}\n    connectors: [{', '.join(connectors)}]\n"
        "mo_default: {tenant: demo}\n"
    )


async def start_daemon(daemon: DaemonProcess, timeout: float = 30.0) -> None:
    await trio.to_thread.run_sync(lambda: daemon.start(timeout))


async def kill9(daemon: DaemonProcess) -> None:
    await trio.to_thread.run_sync(daemon.kill9)


async def stop_daemon(daemon: DaemonProcess, timeout: float = 30.0) -> int:
    return await trio.to_thread.run_sync(lambda: daemon.stop(timeout))


async def metric(daemon: DaemonProcess, name: str, **labels: str) -> float:
    return await trio.to_thread.run_sync(lambda: daemon.metric(name, **labels))


def journal_report(path: Path) -> tuple[dict[str, int], list[str]]:
    """(counts by state, inconsistencies) of a journal no process is writing."""
    journal = Journal.open_readonly(path)
    try:
        return journal.counts(), journal.check()
    finally:
        journal.close()


def rss_kib(pid: int, kind: str = "VmRSS") -> int:
    """Resident memory in KiB: VmRSS (all), or RssAnon (the heap: what the process itself
    holds, without the journal's file pages that LMDB maps in)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {kind} for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def daemon_log_problems(daemon: DaemonProcess) -> list[str]:
    """Log lines that mean a bug was caught somewhere (a task's exception, a traceback)."""
    bad = []
    for line in daemon.log_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            if "Traceback" in line or line.startswith(("Exception", "  File ")):
                bad.append(line)
            continue
        if event.get("exception") or event.get("event") in {"connection_error", "core_submit_failed"}:
            bad.append(line[:2000])
    return bad


# ------------------------------------------------------------------ tenants


@attrs.define
class TenantLog:
    """What one tenant saw: its accepted messages, refusals and receipts."""

    accepted: dict[str, str] = attrs.field(factory=dict)  # our id -> text
    refused: Counter[int] = attrs.field(factory=Counter)  # status -> count
    unanswered: int = 0  # submits whose connection died before the answer
    receipts: Counter[str] = attrs.field(factory=Counter)  # receipted our id -> count
    mo: int = 0
    binds: int = 0
    changed: trio.Event = attrs.field(factory=trio.Event)

    def poke(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def missing_receipts(self) -> set[str]:
        return set(self.accepted) - set(self.receipts)

    async def wait_receipts(self, timeout: float, ids: set[str] | None = None) -> set[str]:
        """Wait until every accepted (or given) id has a receipt; returns the missing ones."""
        with trio.move_on_after(timeout):
            while True:
                missing = (ids if ids is not None else set(self.accepted)) - set(self.receipts)
                if not missing:
                    return set()
                with trio.move_on_after(0.2):
                    await self.changed.wait()
        return (ids if ids is not None else set(self.accepted)) - set(self.receipts)


async def collect_deliveries(client: TenantClient, log: TenantLog) -> None:
    """Take every deliver_sm the client answered until its connection closes."""
    while True:
        delivered = await client.next_delivery(0.5)
        if delivered is None:
            if client.closed.is_set():
                return
            continue
        batch = [delivered]
        while True:  # take everything already queued: one read can bring hundreds
            try:
                batch.append(client._inbox.receive_nowait())  # noqa: SLF001
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        for item in batch:
            if item.is_receipt:
                log.receipts[str(item.receipted_message_id)] += 1
            else:
                log.mo += 1
        log.poke()


_CONNECTION_TROUBLE = (ConnectionError, OSError, trio.BrokenResourceError, trio.ClosedResourceError)


def _only_connection_trouble(group: BaseExceptionGroup) -> bool:  # type: ignore[type-arg]
    _, rest = group.split((*_CONNECTION_TROUBLE, SmppError, trio.TooSlowError))  # by type: nested leaves too
    return rest is None


class LoadTenant:
    """A tenant that submits at `rate` per second with `workers` submits in flight, through
    daemon kills (it reconnects every 0.2 s), and collects receipts on the same bind."""

    def __init__(self, port: int, log: TenantLog, *, system_id: str = "demo", password: str = "demopass",
                 rate: float = 100.0, workers: int = 4, prefix: str = "m", text: Callable[[int], str] | None = None,
                 max_messages: int = 1_000_000, bind_type: str = "transceiver", source: str = "DEMO") -> None:
        self.port = port
        self.bind_type = bind_type
        self.source = source
        self.log = log
        self.system_id = system_id
        self.password = password
        self.rate = rate
        self.workers = workers
        self.prefix = prefix
        self.text = text
        self.max_messages = max_messages
        self._counter = itertools.count()
        self.submitting = True
        self.in_flight = 0

    def next_text(self) -> str | None:
        n = next(self._counter)
        if n >= self.max_messages:
            return None
        return self.text(n) if self.text else f"{self.prefix}{n:07d}"

    async def run(self, until: trio.Event) -> None:
        """Submit (and receive) until `until` is set; then keep receiving (and reconnecting)
        until cancelled."""
        while True:
            try:
                async with connect("127.0.0.1", self.port, self.system_id, self.password, timeout=5,
                                   bind_type=self.bind_type) as client:
                    self.log.binds += 1
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(collect_deliveries, client, self.log)
                        for _ in range(self.workers):
                            nursery.start_soon(self._submitter, client, until)
                        await client.closed.wait()
                        nursery.cancel_scope.cancel()
            except _CONNECTION_TROUBLE:
                pass
            except trio.TooSlowError:
                pass
            except SmppError:  # bind refused (e.g. while shutting down)
                pass
            except BaseExceptionGroup as group:  # noqa: F821 - builtin in 3.11
                if not _only_connection_trouble(group):
                    raise
            await trio.sleep(0.2)

    async def _submitter(self, client: TenantClient, until: trio.Event) -> None:
        interval = self.workers / self.rate if self.rate > 0 else 0.0
        rng = random.Random()
        while not until.is_set() and self.submitting:
            text = self.next_text()
            if text is None:
                return
            self.in_flight += 1
            try:
                ids = await client.submit(DEST, text, source=self.source)
            except SmppError as exc:
                self.log.refused[exc.status] += 1
            except _CONNECTION_TROUBLE:
                self.log.unanswered += 1
                return
            else:
                for message_id in ids:
                    self.log.accepted[message_id] = text
            finally:
                self.in_flight -= 1
            if interval:
                await trio.sleep(interval * rng.uniform(0.5, 1.5))


@asynccontextmanager
async def bound(port: int, system_id: str = "demo", password: str = "demopass", **kw: Any) -> AsyncIterator[TenantClient]:
    async with connect("127.0.0.1", port, system_id, password, **kw) as client:
        yield client


class RawEsme:
    """A hand-driven ESME for misbehaving tenants: our own Session over a plain TCP stream,
    answering only what the test says (enquire_link is answered by the session itself)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        from smsswitch.smpp._state_table import Role
        from smsswitch.smpp.session import Session

        self.stream = stream
        self.session = Session(Role.ESME, window=10, enquire_link_interval=None)
        self.delivers: list[Any] = []  # RequestReceived deliver_sm, unanswered ones included

    @classmethod
    @asynccontextmanager
    async def bound(cls, port: int, bind_type: str = "receiver", system_id: str = "demo",
                    password: str = "demopass") -> AsyncIterator[RawEsme]:
        from smsswitch.smpp.events import Bound
        from smsswitch.smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter

        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            esme = cls(stream)
            kind = {"receiver": BindReceiver, "transmitter": BindTransmitter, "transceiver": BindTransceiver}[bind_type]
            esme.session.send_request(kind(system_id=system_id, password=password), trio.current_time())
            await esme.flush()
            with trio.fail_after(10):
                while not any(isinstance(e, Bound) for e in await esme.read()):
                    pass
            yield esme
        finally:
            await trio.aclose_forcefully(stream)

    async def flush(self) -> None:
        data = self.session.data_to_send()
        if data:
            await self.stream.send_all(data)

    async def read(self) -> list[Any]:
        from smsswitch.smpp.events import RequestReceived

        data = await self.stream.receive_some(65536)
        events = self.session.receive_data(data, trio.current_time())
        self.delivers += [e.pdu for e in events if isinstance(e, RequestReceived)]
        await self.flush()  # enquire_link_resp and the like
        if not data:
            raise EOFError("the switch closed the connection")
        return events

    async def read_for(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            while True:
                await self.read()

    async def answer(self, pdus: list[Any]) -> None:
        from smsswitch.smpp.pdu import make_response

        for pdu in pdus:
            self.session.send_response(pdu, make_response(pdu))
        await self.flush()


def receipted_id(pdu: Any) -> str:
    return str(pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID))
