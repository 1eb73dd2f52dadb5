"""The group-commit writer: one thread, one write transaction and one fsync per batch.

Callers enqueue requests (a list of ops each) without blocking; the writer thread takes
everything that arrived while it was busy (up to `max_batch_ops`), applies it in one LMDB
write transaction, commits (sync: the commit is an fsync), and then wakes every waiter of
the batch with one call into their trio loop. One fsync serves the whole batch, and the
trio loop never touches the disk.

Failures stay inside the batch that met them: a bad op fails only its own request (the
batch is redone without it); MDB_MAP_FULL grows the map and redoes the batch; a full disk,
a read-only file system or an I/O error fails the batch's requests with a typed error and
leaves every earlier commit intact. The next batch simply tries again, so the journal
recovers by itself when space returns.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import lmdb
import structlog
import trio

from smsswitch.histogram import Histogram
from smsswitch.journal.errors import (
    InvalidOperationError,
    JournalError,
    JournalFullError,
    JournalUnavailableError,
)
from smsswitch.journal.gate import GateTimeout, MapGate
from smsswitch.journal.store import Store

log = structlog.get_logger("smsswitch.journal")

#: lmdb errors that mean "this request is malformed", not "the disk is in trouble".
_REQUEST_ERRORS = (lmdb.BadValsizeError, lmdb.KeyExistsError, lmdb.InvalidParameterError)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_FULL_TEXTS = ("No space left", "Disk quota", "File too large")
#: How long a map resize waits for this process's readers before failing the batch.
_GATE_TIMEOUT = 5.0
_MAX_RETRIES = 64
#: Free space under which a failed write is taken for a full disk.
_NEARLY_FULL_BYTES = 4 << 20


class Request:
    """One caller's ops, and where its outcome goes. With a `token`, the batch's requests
    are handed to `on_trio_done` inside that trio loop (`done` is then whatever that
    callback needs: the parked task); without one, `done.set()` (a threading.Event) is
    called from the writer thread."""

    __slots__ = ("ops", "results", "error", "done", "token")

    def __init__(self, ops: Sequence[Any], done: Any, token: trio.lowlevel.TrioToken | None) -> None:
        self.ops = ops
        self.results: list[Any] | None = None
        self.error: BaseException | None = None
        self.done = done
        self.token = token


class _BadRequest(Exception):
    def __init__(self, request: Request, cause: BaseException) -> None:
        self.request = request
        self.cause = cause


class GroupCommitWriter:
    """Owns the write side of one Store. Start it, submit requests, stop it (drains)."""

    def __init__(
        self,
        store: Store,
        gate: MapGate,
        *,
        max_map_size: int,
        max_batch_ops: int = 2000,
        linger: float = 0.0,
        on_trio_done: Callable[[list[Request]], None] | None = None,
    ) -> None:
        self.store = store
        self._gate = gate
        self._max_map_size = max_map_size
        self._max_batch_ops = max_batch_ops
        self._linger = linger
        self._on_trio_done = on_trio_done or _set_all
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Request] = deque()
        self._idle = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._failure: JournalError | None = None
        self._page_size = 0
        # Counters for metrics; written by the writer thread only.
        self.commits = 0
        #: Seconds per durable commit (write txn + fsync), for the metrics endpoint.
        self.commit_latency = Histogram()
        self.ops_committed = 0
        self.requests_failed = 0
        self.map_growths = 0
        self.last_batch_ops = 0
        self.largest_batch_ops = 0

    # ------------------------------------------------------------------ caller side

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: Request) -> None:
        """Enqueue without blocking; bounding the queue is the caller's job."""
        with self._cond:
            if self._stopping:
                raise JournalUnavailableError("journal writer is stopped")
            self._queue.append(request)
            if self._idle:
                self._idle = False  # one notify per idle spell: Condition.notify is Python code
                self._cond.notify()

    def stop(self) -> None:
        """Commit what is queued, then end the thread (blocks: call via to_thread)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def failure(self) -> JournalError | None:
        """The error of the last batch if it failed, None when writes succeed."""
        return self._failure

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            with self._cond:
                lingering = False
                while not self._queue and not self._stopping:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    lingering = True
                if not self._queue and self._stopping:
                    return
            if lingering and self._linger > 0:
                time.sleep(self._linger)  # gather a fuller batch after an idle spell
            batch = self._take_batch()
            try:
                self._commit_batch(batch)
            except BaseException as exc:  # never let the writer thread die with waiters
                _log("exception", "journal.writer_bug")
                self._fail([r for r in batch if r.error is None], JournalUnavailableError(f"journal writer error: {exc!r}"))
            self._wake(batch)

    def _take_batch(self) -> list[Request]:
        batch: list[Request] = []
        ops = 0
        with self._cond:
            queue = self._queue
            while queue and ops < self._max_batch_ops:
                request = queue.popleft()
                batch.append(request)
                ops += len(request.ops)
        return batch

    def _commit_batch(self, batch: list[Request]) -> None:
        pending = batch
        if self._near_ceiling():
            # Keep the last few percent for what frees or finishes work (transitions, acks,
            # purges: LMDB needs fresh pages even to delete), refuse what only adds.
            growing = [r for r in pending if any(getattr(op, "grows", False) for op in r.ops)]
            if growing:
                self._fail(growing, JournalFullError("journal is at its maximum size; new messages refused until purged"))
                pending = [r for r in pending if r.error is None]
                if not pending:
                    return
        started = time.perf_counter()
        for _ in range(_MAX_RETRIES + len(batch)):
            try:
                self._apply_and_commit(pending)
            except _BadRequest as bad:
                bad.request.error = InvalidOperationError(f"{type(bad.cause).__name__}: {bad.cause}")
                bad.request.error.__cause__ = bad.cause
                _log("warning", "journal.bad_request", error=str(bad.request.error))
                pending = [r for r in pending if r is not bad.request]
                if not pending:
                    return
            except lmdb.MapFullError:
                try:
                    grown = self._grow_map()
                except (lmdb.Error, OSError, GateTimeout) as exc:
                    self._fail(pending, _classify(exc, self.store.env.path()))
                    return
                if not grown:
                    self._fail(pending, JournalFullError(f"journal map is at its maximum ({self._max_map_size} bytes)"))
                    return
            except lmdb.MapResizedError:
                try:
                    self._adopt_map_size()
                except (lmdb.Error, OSError, GateTimeout) as exc:
                    self._fail(pending, _classify(exc, self.store.env.path()))
                    return
            except lmdb.PanicError as exc:
                self._fail(pending, JournalUnavailableError(f"journal environment failed: {exc}"))
                return
            except (lmdb.Error, OSError, GateTimeout) as exc:
                self._fail(pending, _classify(exc, self.store.env.path()))
                return
            else:
                ops = sum(len(r.ops) for r in pending)
                self.commit_latency.observe(time.perf_counter() - started)
                self.commits += 1
                self.ops_committed += ops
                self.last_batch_ops = ops
                if ops > self.largest_batch_ops:
                    self.largest_batch_ops = ops
                if self._failure is not None:
                    _log("warning", "journal.writes_recovered", after=type(self._failure).__name__)
                    self._failure = None
                return
        self._fail(pending, JournalUnavailableError("journal commit kept being retried"))

    def _apply_and_commit(self, pending: list[Request]) -> None:
        store = self.store
        txn = store.env.begin(write=True)
        try:
            for request in pending:
                try:
                    request.results = [op.apply(store, txn) for op in request.ops]
                except (lmdb.MapFullError, lmdb.MapResizedError):
                    raise
                except _REQUEST_ERRORS as exc:
                    raise _BadRequest(request, exc) from exc
                except lmdb.Error:
                    raise
                except Exception as exc:  # a malformed op: fail its caller, not the batch
                    raise _BadRequest(request, exc) from exc
            txn.commit()
        except BaseException:
            for request in pending:
                request.results = None
            try:
                txn.abort()
            except lmdb.Error:
                pass
            raise

    def _fail(self, pending: list[Request], error: JournalError) -> None:
        self.requests_failed += len(pending)
        for request in pending:
            request.error = error
        if self._failure is None or type(self._failure) is not type(error):
            _log("error", "journal.writes_failing", error=str(error), kind=type(error).__name__)
        self._failure = error

    def _near_ceiling(self) -> bool:
        """True when live data fills the maximum map size but for the reserved headroom."""
        env = self.store.env
        info = env.info()
        psize = self._page_size or env.stat()["psize"]
        self._page_size = psize
        limit = self._max_map_size - max(self._max_map_size // 20, 64 * psize)
        if (info["last_pgno"] + 1) * psize < limit:
            return False  # the common case: not even the high-water mark is near
        try:
            with env.begin() as txn:  # freed pages are reused: count what is live
                return self.store.live_pages(txn) * psize >= limit
        except lmdb.Error:
            return False  # e.g. another process grew the map: the commit path sorts that out

    def _grow_map(self) -> bool:
        env = self.store.env
        current = env.info()["map_size"]
        if current >= self._max_map_size:
            return False
        new_size = min(self._max_map_size, current * 2)
        with self._gate.exclusive(_GATE_TIMEOUT):
            env.set_mapsize(new_size)
        self.map_growths += 1
        _log("info", "journal.map_grown", old_bytes=current, new_bytes=new_size)
        return True

    def _adopt_map_size(self) -> None:
        """Another process (the journal CLI) grew the map: take its size."""
        with self._gate.exclusive(_GATE_TIMEOUT):
            self.store.env.set_mapsize(0)

    def _wake(self, batch: list[Request]) -> None:
        by_token: dict[trio.lowlevel.TrioToken, list[Request]] = {}
        for request in batch:
            if request.token is None:
                request.done.set()
            else:
                by_token.setdefault(request.token, []).append(request)
        for token, requests in by_token.items():
            try:
                token.run_sync_soon(self._on_trio_done, requests)
            except trio.RunFinishedError:
                pass  # the caller's loop is gone; nobody is waiting any more


def _log(level: str, event: str, **fields: Any) -> None:
    """Log from the writer thread; a broken log sink must never strand the waiters."""
    try:
        getattr(log, level)(event, **fields)
    except Exception:  # noqa: BLE001 - nothing sensible left to do with it
        pass


def _set_all(requests: list[Request]) -> None:
    for request in requests:
        request.done.set()


def _classify(exc: BaseException, path: str) -> JournalError:
    """Full disk vs. anything else. LMDB reports a short write (the usual face of a full
    disk) as EIO, so the free space of the journal's file system decides as well."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in _FULL_ERRNOS or any(t in text for t in _FULL_TEXTS) or _disk_nearly_full(path):
        error: JournalError = JournalFullError(f"no space for the journal: {text}")
    else:
        error = JournalUnavailableError(f"journal write failed: {text}")
    error.__cause__ = exc
    return error


def _disk_nearly_full(path: str) -> bool:
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _NEARLY_FULL_BYTES
