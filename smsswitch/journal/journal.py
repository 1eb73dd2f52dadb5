"""The journal as the rest of the switch sees it: open it, commit ops, read records.

    async with open_journal(JournalConfig(path=...)) as journal:
        message_id = journal.new_id()
        await journal.commit([PutMessage(record)])     # durable when this returns
        journal.get(message_id)                         # cheap read, any thread

Writes go through one group-commit writer process; reads use LMDB read transactions
directly in this process (they never block the writer or each other). The trio side bounds
the number of requests in flight: `commit` waits for room, `try_commit` raises
JournalOverloadedError at once so the server can answer ESME_RMSGQFUL instead of queueing
without bound.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import attrs
import lmdb
import trio

from smsswitch.journal.errors import JournalOverloadedError, JournalUnavailableError
from smsswitch.journal.gate import MapGate
from smsswitch.journal.ids import MessageIdGenerator
from smsswitch.journal.records import DeadLetter, MessageRecord, MessageState, OutboxEntry
from smsswitch.journal.store import Store, open_env
from smsswitch.journal.writer import GroupCommitWriter, Request

MiB = 1 << 20
GiB = 1 << 30


@attrs.frozen
class JournalConfig:
    path: Path = attrs.field(converter=Path)
    #: Starting map size; it doubles on MDB_MAP_FULL up to `max_map_size`.
    initial_map_size: int = 64 * MiB
    #: Hard ceiling (the journal's disk budget); beyond it commits fail with JournalFullError.
    max_map_size: int = 32 * GiB
    #: Most ops in one transaction (one fsync).
    max_batch_ops: int = 2000
    #: After an idle spell, wait this long (seconds) to gather a fuller first batch.
    linger: float = 0.0
    #: Most commit requests waiting for the writer before back-pressure.
    max_pending: int = 10_000
    #: Node number in generated ids (0..255), distinct per node of a cluster.
    node: int = 0
    #: fsync on commit. Only tests and benchmarks of the non-durable case turn this off.
    sync: bool = True
    #: CPUs the writer process may run on (empty: any).
    writer_cpus: tuple[int, ...] = ()


class Journal:
    """One open journal. Build it with `open_journal` (trio) or `Journal.open_readonly`."""

    def __init__(self, store: Store, gate: MapGate, config: JournalConfig | None) -> None:
        self._store = store
        self._gate = gate
        self.config = config
        self._writer: GroupCommitWriter | None = None
        self._slots: trio.Semaphore | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        with self.read() as txn:
            floor = store.last_id(txn)
        self.ids = MessageIdGenerator(config.node if config else 0, floor=floor)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Journal:
        """For inspection (CLI) while the daemon runs; commit() raises."""
        if not (Path(path) / "data.mdb").exists():
            raise JournalUnavailableError(f"no journal at {path}")
        env = open_env(path, map_size=MiB, readonly=True)
        return cls(Store(env, readonly=True), MapGate(), None)

    async def _start(self) -> None:
        assert self.config is not None
        self._token = trio.lowlevel.current_trio_token()
        self._slots = trio.Semaphore(self.config.max_pending)
        writer = GroupCommitWriter(
            self.config.path,
            map_size=self._store.env.info()["map_size"],
            max_map_size=self.config.max_map_size,
            sync=self.config.sync,
            max_batch_ops=self.config.max_batch_ops,
            linger=self.config.linger,
            cpus=self.config.writer_cpus,
            token=self._token,
            on_trio_done=self._requests_done,
        )
        await trio.to_thread.run_sync(writer.start)
        self._writer = writer

    async def aclose(self) -> None:
        """Commit whatever is queued, stop the writer, close the environment."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await trio.to_thread.run_sync(writer.stop)
        self._store.env.close()

    def close(self) -> None:
        """Close a read-only journal."""
        if self._writer is not None:
            raise RuntimeError("use aclose() for a journal opened with open_journal")
        self._store.env.close()

    # ------------------------------------------------------------------ writing

    def new_id(self) -> str:
        """A fresh, time-ordered id (messages, outbox entries)."""
        return self.ids.next()

    async def commit(self, ops: Sequence[Any]) -> list[Any]:
        """Apply `ops` atomically and durably; returns each op's result. Waits for room when
        the writer is backed up. Raises JournalFullError / JournalUnavailableError when the
        disk refuses (nothing of `ops` is then written) or InvalidOperationError for a bad op.
        If the caller is cancelled while waiting, the ops are still committed."""
        slots = self._writable()
        try:
            slots.acquire_nowait()  # the common case: no extra trip through the scheduler
        except trio.WouldBlock:
            await slots.acquire()
        return await self._submit(ops)

    async def try_commit(self, ops: Sequence[Any]) -> list[Any]:
        """Like commit, but raises JournalOverloadedError at once when the writer is backed
        up (answer ESME_RMSGQFUL) instead of waiting for room."""
        slots = self._writable()
        try:
            slots.acquire_nowait()
        except trio.WouldBlock:
            raise JournalOverloadedError("journal writer queue is full") from None
        return await self._submit(ops)

    async def _submit(self, ops: Sequence[Any]) -> list[Any]:
        request = Request(ops, trio.lowlevel.current_task())
        try:
            self._writer.submit(request)  # type: ignore[union-attr]
        except BaseException:
            self._slots.release()  # type: ignore[union-attr]
            raise

        def abandon(_raise_cancel: Any) -> trio.lowlevel.Abort:
            request.done = None  # cancelled: the ops still commit, nobody is woken
            return trio.lowlevel.Abort.SUCCEEDED

        # Park until the writer's batch callback reschedules us (cheaper than an Event).
        await trio.lowlevel.wait_task_rescheduled(abandon)
        if request.error is not None:
            raise request.error
        return request.results  # type: ignore[return-value]

    def _writable(self) -> trio.Semaphore:
        if self._slots is None or self._writer is None:
            raise JournalUnavailableError("journal is read-only or closed")
        return self._slots

    def _requests_done(self, requests: list[Request]) -> None:
        """Runs in the trio loop, once per committed batch."""
        slots = self._slots
        reschedule = trio.lowlevel.reschedule
        for request in requests:
            if request.done is not None:
                reschedule(request.done)
            slots.release()  # type: ignore[union-attr]

    @property
    def pending(self) -> int:
        """Commit requests admitted but not yet answered."""
        if self._slots is None or self.config is None:
            return 0
        return self.config.max_pending - self._slots.value

    @property
    def is_overloaded(self) -> bool:
        """True when nine tenths of the writer's queue is taken: refuse new work early."""
        if self._slots is None or self.config is None:
            return False
        return self._slots.value * 10 < self.config.max_pending

    @property
    def healthy(self) -> bool:
        """False while commits are failing (disk full, I/O error); see `last_error`."""
        return self._writer is None or self._writer.failure is None

    @property
    def last_error(self) -> Exception | None:
        return None if self._writer is None else self._writer.failure

    def writer_stats(self) -> dict[str, Any]:
        """Counters for metrics: commits, ops committed, failed requests, map growths."""
        w = self._writer
        if w is None:
            return {}
        return {
            "commits": w.commits,
            "ops_committed": w.ops_committed,
            "requests_failed": w.requests_failed,
            "map_growths": w.map_growths,
            "writer_restarts": w.restarts,
            "last_batch_ops": w.last_batch_ops,
            "largest_batch_ops": w.largest_batch_ops,
            "queued": w.queued,
            "pending": self.pending,
            "commit_latency": w.commit_latency.snapshot(),
        }

    # ------------------------------------------------------------------ reading

    @property
    def store(self) -> Store:
        return self._store

    @contextmanager
    def read(self) -> Iterator[lmdb.Transaction]:
        """A read transaction (a consistent snapshot). Keep it short, and never `await`
        inside it: a map resize waits for this process's readers."""
        self._gate.acquire_shared()
        try:
            txn = self._begin_read()
            try:
                yield txn
            finally:
                txn.abort()
        finally:
            self._gate.release_shared()

    def _begin_read(self) -> lmdb.Transaction:
        try:
            return self._store.env.begin()
        except lmdb.MapResizedError:
            # Another process grew the map. Adopting it needs the map to ourselves.
            self._gate.release_shared()
            try:
                with self._gate.exclusive(5.0):
                    self._store.env.set_mapsize(0)
            finally:
                self._gate.acquire_shared()
            return self._store.env.begin()

    def get(self, message_id: str) -> MessageRecord | None:
        with self.read() as txn:
            return self._store.get_message(txn, message_id)

    def lookup_carrier_id(self, connector: str, carrier_id: str) -> str | None:
        """Our message id for a carrier's id (hex or decimal as the receipt wrote it)."""
        with self.read() as txn:
            return self._store.find_correlation(txn, connector, carrier_id)

    def find_by_carrier_id(self, connector: str, carrier_id: str) -> MessageRecord | None:
        """The message a receipt is about, in one read transaction."""
        with self.read() as txn:
            message_id = self._store.find_correlation(txn, connector, carrier_id)
            return None if message_id is None else self._store.get_message(txn, message_id)

    def outbox_for(self, tenant: str, limit: int = 1000) -> list[OutboxEntry]:
        """What is owed to `tenant`, oldest first (deliver when it binds)."""
        out: list[OutboxEntry] = []
        with self.read() as txn:
            for entry in self._store.iter_outbox(txn, tenant):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    def get_outbox(self, entry_id: str) -> OutboxEntry | None:
        with self.read() as txn:
            return self._store.get_outbox(txn, entry_id)

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        with self.read() as txn:
            for letter in self._store.iter_dead_letters(txn):
                out.append(letter)
                if len(out) >= limit:
                    break
        return out

    def due(self, state: MessageState, until: float, limit: int = 1000) -> list[MessageRecord]:
        """Messages in `state` whose due time is <= `until`, earliest first: scheduled
        messages to send, in-flight ones past their validity."""
        out: list[MessageRecord] = []
        with self.read() as txn:
            for _key, _due, message_id in self._store.iter_state(txn, state, until=until):
                record = self._store.get_message(txn, message_id)
                if record is not None:
                    out.append(record)
                if len(out) >= limit:
                    break
        return out

    def counts(self) -> dict[str, int]:
        with self.read() as txn:
            return self._store.counts(txn)

    def check(self) -> list[str]:
        """Every inconsistency between records and indexes (tests, `journal check`)."""
        with self.read() as txn:
            return self._store.check(txn)

    def map_info(self) -> dict[str, int]:
        """The journal's map as the writer process left it (a read adopts a grown map first)."""
        with self.read():
            pass
        info = self._store.env.info()
        stat = self._store.env.stat()
        return {
            "map_size": info["map_size"],
            "used_bytes": (info["last_pgno"] + 1) * stat["psize"],
            "readers": info["num_readers"],
        }


@asynccontextmanager
async def open_journal(config: JournalConfig) -> AsyncIterator[Journal]:
    """Open (creating if needed) the journal for writing and run its writer process."""
    env = await trio.to_thread.run_sync(
        lambda: open_env(config.path, map_size=config.initial_map_size, sync=config.sync)
    )
    try:
        env.reader_check()  # free reader slots of processes that died (kill -9)
        store = Store(env)
    except BaseException:
        env.close()
        raise
    journal = Journal(store, MapGate(), config)
    try:
        await journal._start()
    except BaseException:
        env.close()
        raise
    try:
        yield journal
    finally:
        with trio.CancelScope(shield=True):
            await journal.aclose()
