"""Apply a batch of commit requests in one LMDB write transaction and one fsync.

This is the inside of the group-commit writer (see writer.py), which runs it in a process
of its own. Failures stay inside the batch that met them: a bad op fails only its own
request (the batch is redone without it); MDB_MAP_FULL grows the map and redoes the batch;
a full disk, a read-only file system or an I/O error fails the batch's requests with a typed
error and leaves every earlier commit intact. The next batch simply tries again, so the
journal recovers by itself when space returns.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import lmdb

from smsswitch.journal.errors import (
    InvalidOperationError,
    JournalError,
    JournalFullError,
    JournalUnavailableError,
)
from smsswitch.journal.gate import GateTimeout, MapGate
from smsswitch.journal.store import Store

#: lmdb errors that mean "this request is malformed", not "the disk is in trouble".
_REQUEST_ERRORS = (lmdb.BadValsizeError, lmdb.KeyExistsError, lmdb.InvalidParameterError)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_FULL_TEXTS = ("No space left", "Disk quota", "File too large")
#: How long a map resize waits for this process's readers before failing the batch.
_GATE_TIMEOUT = 5.0
_MAX_RETRIES = 64
#: Free space under which a failed write is taken for a full disk.
_NEARLY_FULL_BYTES = 4 << 20

#: (level, event, fields) -> None; the committer never logs by itself (see writer_child).
LogFn = Callable[..., None]


class Request:
    """One caller's ops, and where its outcome goes: `results` (one per op) or `error`. In
    the daemon, `done` is the caller's parked task (writer.py)."""

    __slots__ = ("ops", "results", "error", "done")

    def __init__(self, ops: Sequence[Any], done: Any = None) -> None:
        self.ops = ops
        self.results: list[Any] | None = None
        self.error: BaseException | None = None
        self.done = done


class _BadRequest(Exception):
    def __init__(self, request: Request, cause: BaseException) -> None:
        self.request = request
        self.cause = cause


class BatchCommitter:
    """Owns the write side of one Store: `commit_batch` applies requests durably."""

    def __init__(self, store: Store, gate: MapGate, *, max_map_size: int, log: LogFn) -> None:
        self.store = store
        self._gate = gate
        self._max_map_size = max_map_size
        self._log = log
        self._page_size = 0
        self.failure: JournalError | None = None
        self.commits = 0
        #: Seconds the last durable commit took (write txn + fsync); None once reported.
        self.last_latency: float | None = None
        self.ops_committed = 0
        self.requests_failed = 0
        self.map_growths = 0
        self.last_batch_ops = 0
        self.largest_batch_ops = 0

    def commit_batch(self, batch: list[Request]) -> None:
        """Apply and commit; sets `results` or `error` on every request. Never raises."""
        try:
            self._commit_batch([r for r in batch if r.error is None])
        except BaseException as exc:  # never leave waiters without an answer
            self._log("exception", "journal.writer_bug")
            self.fail([r for r in batch if r.error is None and r.results is None],
                      JournalUnavailableError(f"journal writer error: {exc!r}"))  # fmt: skip

    def _commit_batch(self, pending: list[Request]) -> None:
        if not pending:
            return
        if self._near_ceiling():
            # Keep the last few percent for what frees or finishes work (transitions, acks,
            # purges: LMDB needs fresh pages even to delete), refuse what only adds.
            growing = [r for r in pending if any(getattr(op, "grows", False) for op in r.ops)]
            if growing:
                self.fail(growing, JournalFullError("journal is at its maximum size; new messages refused until purged"))
                pending = [r for r in pending if r.error is None]
                if not pending:
                    return
        started = time.perf_counter()
        for _ in range(_MAX_RETRIES + len(pending)):
            try:
                self._apply_and_commit(pending)
            except _BadRequest as bad:
                bad.request.error = InvalidOperationError(f"{type(bad.cause).__name__}: {bad.cause}")
                bad.request.error.__cause__ = bad.cause
                self._log("warning", "journal.bad_request", error=str(bad.request.error))
                pending = [r for r in pending if r is not bad.request]
                if not pending:
                    return
            except lmdb.MapFullError:
                try:
                    grown = self._grow_map()
                except (lmdb.Error, OSError, GateTimeout) as exc:
                    self.fail(pending, classify(exc, self.store.env.path()))
                    return
                if not grown:
                    self.fail(pending, JournalFullError(f"journal map is at its maximum ({self._max_map_size} bytes)"))
                    return
            except lmdb.MapResizedError:
                try:
                    self._adopt_map_size()
                except (lmdb.Error, OSError, GateTimeout) as exc:
                    self.fail(pending, classify(exc, self.store.env.path()))
                    return
            except lmdb.PanicError as exc:
                self.fail(pending, JournalUnavailableError(f"journal environment failed: {exc}"))
                return
            except (lmdb.Error, OSError, GateTimeout) as exc:
                self.fail(pending, classify(exc, self.store.env.path()))
                return
            else:
                ops = sum(len(r.ops) for r in pending)
                self.last_latency = time.perf_counter() - started
                self.commits += 1
                self.ops_committed += ops
                self.last_batch_ops = ops
                if ops > self.largest_batch_ops:
                    self.largest_batch_ops = ops
                if self.failure is not None:
                    self._log("warning", "journal.writes_recovered", after=type(self.failure).__name__)
                    self.failure = None
                return
        self.fail(pending, JournalUnavailableError("journal commit kept being retried"))

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

    def fail(self, pending: list[Request], error: JournalError) -> None:
        self.requests_failed += len(pending)
        for request in pending:
            request.error = error
        if self.failure is None or type(self.failure) is not type(error):
            self._log("error", "journal.writes_failing", error=str(error), kind=type(error).__name__)
        self.failure = error

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
        self._log("info", "journal.map_grown", old_bytes=current, new_bytes=new_size)
        return True

    def _adopt_map_size(self) -> None:
        """Another process (the journal CLI) grew the map: take its size."""
        with self._gate.exclusive(_GATE_TIMEOUT):
            self.store.env.set_mapsize(0)


def classify(exc: BaseException, path: str) -> JournalError:
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
