"""The group-commit writer: one process, one write transaction and one fsync per batch.

Callers hand over requests (a list of ops each) without blocking: they are encoded
(ops.op_to_wire) and written, many per write, down a pipe to the writer process
(writer_child.py), which takes everything that arrived while it was busy (up to
`max_batch_ops`), applies it in one LMDB write transaction, commits (sync: the commit is an
fsync) and answers the batch. A receiver thread reads the answers and wakes every waiter of
the batch with one call into their trio loop. One fsync serves the whole batch, the trio
loop never touches the disk, and the batch's Python work runs outside the daemon's GIL (see
writer_child.py for why).

Reads stay in the daemon (LMDB readers in any process see each commit at once). A map that
the writer process grows is adopted by the daemon's next read (Journal._begin_read).

If the writer process dies, every request it had not answered fails with
JournalUnavailableError (its ops may or may not have been committed: the same promise as a
daemon crash, which replay keeps), and a new writer process takes the next requests.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgpack
import structlog
import trio

from smsswitch.histogram import Histogram
from smsswitch.journal import errors
from smsswitch.journal.committer import Request
from smsswitch.journal.errors import InvalidOperationError, JournalError, JournalUnavailableError
from smsswitch.journal.ops import op_to_wire
from smsswitch.journal.writer_child import write_all

__all__ = ["GroupCommitWriter", "Request"]

log = structlog.get_logger("smsswitch.journal")

_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20
#: How long the writer process may take to open the journal.
_START_TIMEOUT = 60.0
#: Pause before a new writer process replaces one that died (not a tight crash loop).
_RESPAWN_PAUSE = 0.5
_ERRORS: dict[str, type[JournalError]] = {
    name: cls for name in dir(errors) if isinstance(cls := getattr(errors, name), type) and issubclass(cls, JournalError)
}


class GroupCommitWriter:
    """Owns the write side of one journal. Start it, submit requests, stop it (drains)."""

    def __init__(
        self,
        path: str,
        *,
        map_size: int,
        max_map_size: int,
        sync: bool = True,
        max_batch_ops: int = 2000,
        linger: float = 0.0,
        cpus: tuple[int, ...] = (),
        token: trio.lowlevel.TrioToken,
        on_trio_done: Callable[[list[Request]], None],
    ) -> None:
        self._child_config = {
            "path": str(path), "map_size": map_size, "max_map_size": max_map_size, "sync": sync,
            "max_batch_ops": max_batch_ops, "linger": linger, "cpus": list(cpus),
            "sys_path": [p for p in sys.path if p],
        }  # fmt: skip
        #: The journal's trio loop: every request comes from it, every answer goes back to it.
        self._token = token
        #: Runs in that loop with the requests of one answered batch.
        self._on_trio_done = on_trio_done
        self._cond = threading.Condition(threading.Lock())
        #: Encoded requests not yet written to the pipe.
        self._queue: deque[bytes] = deque()
        #: A `_flush` is scheduled in the trio loop.
        self._flush_due = False
        #: The sender thread writes (the pipe was full, or we are stopping): queue for it.
        self._sender_owns = False
        self._inflight: dict[int, Request] = {}
        self._next_id = 0
        self._idle = False
        self._stopping = False
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._child: subprocess.Popen[bytes] | None = None
        self._sender = threading.Thread(target=self._send_loop, name="journal-sender", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name="journal-receiver", daemon=True)
        self._failure: JournalError | None = None
        # Counters for metrics, as the writer process last reported them.
        self.commits = 0
        #: Seconds per durable commit (write txn + fsync), for the metrics endpoint.
        self.commit_latency = Histogram()
        self.ops_committed = 0
        self.requests_failed = 0
        self.map_growths = 0
        self.last_batch_ops = 0
        self.largest_batch_ops = 0
        self.restarts = 0

    # ------------------------------------------------------------------ caller side

    def start(self) -> None:
        """Start the writer process (blocks until it has opened the journal: call via
        to_thread) and the two threads that talk to it."""
        self._child = self._spawn()
        self._sender.start()
        self._receiver.start()

    def submit(self, request: Request) -> None:
        """Encode and hand over without blocking; bounding the queue is the caller's job.
        Raises InvalidOperationError for an op that cannot be encoded. Call from a task of
        the journal's trio loop.

        The bytes go down the pipe in one non-blocking write per scheduler
        batch (`_flush`, run soon in the same thread): no thread hand-off on the hot path.
        Only when the pipe is full does the sender thread take over until it has drained."""
        try:
            wire_ops = [op_to_wire(op) for op in request.ops]
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable custom op
            raise InvalidOperationError(f"{type(exc).__name__}: {exc}") from exc
        with self._cond:
            if self._stopping:
                raise JournalUnavailableError("journal writer is stopped")
            if self._child is None:
                raise JournalUnavailableError("journal writer process is restarting")
            self._next_id += 1
            self._inflight[self._next_id] = request
            self._queue.append(self._pack([self._next_id, wire_ops]))
            if self._sender_owns or self._flush_due:
                return  # the sender thread, or the flush already scheduled, takes it along
            self._flush_due = True
        self._token.run_sync_soon(self._flush)

    def _flush(self) -> None:
        """Write everything submitted since the last flush (in the trio thread, non-blocking)."""
        with self._cond:
            self._flush_due = False
            child = self._child
            if self._sender_owns or not self._queue or child is None:
                return
            data = b"".join(self._queue)
            self._queue.clear()
            try:
                written = os.write(child.stdin.fileno(), data)  # type: ignore[union-attr]
            except BlockingIOError:
                written = 0
            except OSError:
                return  # the writer process died: the receiver fails what it had not answered
            if written < len(data):  # the pipe is full: the sender thread waits for room
                self._queue.append(data[written:])
                self._sender_owns = True
                if self._idle:
                    self._idle = False  # one notify per idle spell: Condition.notify is Python code
                    self._cond.notify()

    def stop(self) -> None:
        """Commit what is queued, then end the process and threads (blocks: call via to_thread)."""
        with self._cond:
            self._stopping = True
            self._sender_owns = True  # what no flush wrote yet goes through the sender
            self._cond.notify()
        if self._sender.is_alive():
            self._sender.join()
        if self._receiver.is_alive():
            self._receiver.join()
        child = self._child
        if child is not None:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    @property
    def failure(self) -> JournalError | None:
        """The error of the last batch if it failed, None when writes succeed."""
        return self._failure

    @property
    def queued(self) -> int:
        """Requests handed over and not yet answered."""
        return len(self._inflight)

    # ------------------------------------------------------------------ the writer process

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, "-m", "smsswitch.journal.writer_child", json.dumps(self._child_config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        try:
            fcntl.fcntl(child.stdin.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)  # fewer full-pipe hand-offs
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: the default pipe works too, in smaller steps
        os.set_blocking(child.stdin.fileno(), False)
        unpacker = msgpack.Unpacker(raw=False, use_list=True)
        deadline = time.monotonic() + _START_TIMEOUT
        hello: Any = None
        while hello is None and time.monotonic() < deadline:
            data = os.read(child.stdout.fileno(), 4096)
            if not data:
                break
            unpacker.feed(data)
            hello = next(unpacker, None)
        if not hello or hello[0] != "ready":
            child.kill()
            child.wait()
            why = hello[1] if hello else f"writer process exited with {child.returncode}"
            raise JournalUnavailableError(f"journal writer could not start: {why}")
        return child

    def _send_loop(self) -> None:
        """Write what the pipe had no room for (blocking); EOF to the child on stop."""
        while True:
            with self._cond:
                while not (self._sender_owns and self._queue) and not self._stopping:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if not self._queue:
                    if self._stopping:
                        break
                    continue
                data = b"".join(self._queue)
                self._queue.clear()
                child = self._child
            if child is not None:
                try:
                    write_all(child.stdin.fileno(), data)  # type: ignore[union-attr]
                except OSError:
                    pass  # the writer process died: the receiver fails what it had not answered
            with self._cond:
                if not self._queue and not self._stopping:
                    self._sender_owns = False  # drained: trio writes directly again
        child = self._child
        if child is not None and child.stdin is not None:
            child.stdin.close()  # the writer process commits what it has, answers, exits

    def _receive_loop(self) -> None:
        """Read answers and wake their waiters; replace a writer process that died."""
        while True:
            child = self._child
            assert child is not None and child.stdout is not None
            unpacker = msgpack.Unpacker(raw=False, use_list=True, strict_map_key=False, max_buffer_size=1 << 30)
            while data := os.read(child.stdout.fileno(), 1 << 20):
                unpacker.feed(data)
                for frame in unpacker:
                    self._answered(frame)
            code = child.wait()
            with self._cond:  # whatever it had not answered is lost with it; refuse new work
                lost = list(self._inflight.values())
                self._inflight.clear()
                self._queue.clear()
                stopping = self._stopping
                if not stopping:
                    self._child = None
            if lost or not stopping:
                error = JournalUnavailableError(f"journal writer process exited with {code}")
                _log("error", "journal.writer_died", exit_code=code, unanswered=len(lost))
                self._failure = error
                for request in lost:
                    request.error = error
                self._wake(lost)
            if stopping:
                return
            new_child = None
            while new_child is None and not self._stopping:
                time.sleep(_RESPAWN_PAUSE)
                try:
                    new_child = self._spawn()
                except JournalError as exc:
                    _log("error", "journal.writer_restart_failed", error=str(exc))
            if new_child is None:
                return
            with self._cond:
                self._child = new_child
                self.restarts += 1
                self._cond.notify()
                if self._stopping and new_child.stdin is not None:
                    new_child.stdin.close()  # stop() began meanwhile: nothing more will be sent
            _log("warning", "journal.writer_restarted", pid=new_child.pid)

    def _answered(self, frame: list[Any]) -> None:
        answers, stats, logs = frame
        inflight = self._inflight
        batch: list[Request] = []
        for req_id, results, error_kind, error_text in answers:
            request = inflight.pop(req_id, None)
            if request is None:
                continue
            if error_kind is None:
                request.results = results
            else:
                request.error = _ERRORS.get(error_kind, JournalUnavailableError)(error_text)
            batch.append(request)
        (self.commits, self.ops_committed, self.requests_failed, self.map_growths, self.last_batch_ops,
         self.largest_batch_ops, latency, failure_kind, failure_text) = stats  # fmt: skip
        if latency is not None:
            self.commit_latency.observe(latency)
        if failure_kind is None:
            self._failure = None
        elif self._failure is None or str(self._failure) != failure_text:
            self._failure = _ERRORS.get(failure_kind, JournalUnavailableError)(failure_text)
        for level, event, fields in logs:
            _log(level, event, **fields)
        self._wake(batch)

    def _wake(self, batch: list[Request]) -> None:
        if not batch:
            return
        try:
            self._token.run_sync_soon(self._on_trio_done, batch)
        except trio.RunFinishedError:
            pass  # the journal's loop is gone; nobody is waiting any more


def _log(level: str, event: str, **fields: Any) -> None:
    """Log from a writer thread; a broken log sink must never strand the waiters."""
    try:
        getattr(log, level)(event, **fields)
    except Exception:  # noqa: BLE001 - nothing sensible left to do with it
        pass
