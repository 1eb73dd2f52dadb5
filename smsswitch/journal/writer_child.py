"""The journal's writer process: reads commit requests from stdin, commits them in groups,
answers on stdout. Started and owned by `writer.GroupCommitWriter`; not a command.

Why a process: applying a batch (msgpack, index keys, B-tree puts) is Python work, and in a
thread it took the daemon's GIL for a fifth of its time; py-lmdb also drops and retakes the
GIL on every get and put, so the two threads handed the GIL back and forth thousands of times
per batch. Here it runs on the other core and the daemon's reads stay in the daemon.

Protocol (msgpack streams): in, [request id, [op wire form, ...]] per request; out, first
["ready", pid] (or ["error", text] if the journal cannot be opened), then one frame per batch:
[[[request id, results | None, error kind | None, error text], ...], stats, log events].
stdin reaching EOF while the daemon is there means "commit what was sent, answer, and exit"
(its clean stop waits for those answers). If the daemon died instead (stdin at EOF and this
process handed to another parent, or an answer the daemon can no longer read), nothing more
is committed and the process exits: those requests were never acknowledged to anyone, the
same as a crash before they reached the disk, and a daemon restarted meanwhile must not see
commits land after its replay has read the journal (it would miss them). At most the batch
being committed when the daemon died lands. SIGINT/SIGTERM are ignored: systemd signals the
whole service, and this process must outlive the daemon's own drain.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from collections import deque
from typing import Any

import msgpack


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config = json.loads(sys.argv[1])
    for entry in reversed(config.get("sys_path", [])):  # pickled ops import like the daemon does
        if entry not in sys.path:
            sys.path.insert(0, entry)
    out = sys.stdout.buffer.fileno()
    packer = msgpack.Packer(use_bin_type=True, default=repr)  # a custom op's odd result: its repr
    try:
        if config.get("cpus"):
            os.sched_setaffinity(0, config["cpus"])  # the daemon's `cpus.journal_writer`
        from smsswitch.journal.committer import BatchCommitter
        from smsswitch.journal.gate import MapGate
        from smsswitch.journal.store import Store, open_env

        env = open_env(config["path"], map_size=config["map_size"], sync=config["sync"])
        committer = BatchCommitter(Store(env), MapGate(), max_map_size=config["max_map_size"], log=_Logs.add)
    except Exception as exc:  # noqa: BLE001 - the daemon reports it and refuses to start
        write_all(out, packer.pack(["error", f"{type(exc).__name__}: {exc}"]))
        return 1
    from smsswitch.gctune import tune_for_daemon

    tune_for_daemon()  # a few lists per op, freed by refcount: see gctune
    write_all(out, packer.pack(["ready", os.getpid()]))
    _serve(committer, sys.stdin.buffer.fileno(), out, packer, config["max_batch_ops"], config["linger"])
    env.close()
    return 0


class _Logs:
    """Log events of the current batch; they travel with its answer (one log config: the daemon's)."""

    events: list[list[Any]] = []

    @classmethod
    def add(cls, level: str, event: str, **fields: Any) -> None:
        if level == "exception":
            import traceback

            level, fields = "error", {**fields, "traceback": traceback.format_exc()}
        cls.events.append([level, event, {k: _plain(v) for k, v in fields.items()}])


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _serve(committer: Any, rfd: int, wfd: int, packer: msgpack.Packer, max_batch_ops: int, linger: float) -> None:
    from smsswitch.journal.committer import Request
    from smsswitch.journal.errors import InvalidOperationError
    from smsswitch.journal.ops import op_from_wire

    unpacker = msgpack.Unpacker(raw=False, use_list=True, strict_map_key=False, max_buffer_size=1 << 30)
    poller = select.poll()
    poller.register(rfd, select.POLLIN)
    waiting: deque[Any] = deque()
    eof = False
    parent = os.getppid()

    def read() -> bool:
        nonlocal eof
        data = os.read(rfd, 1 << 20)
        if not data:
            eof = True
            return False
        unpacker.feed(data)
        return True

    while True:
        if not waiting:
            if eof:
                return
            idle = not poller.poll(0)  # nothing came in while the last batch committed
            if read() and idle and linger > 0:
                time.sleep(linger)  # gather a fuller batch after an idle spell
        while not eof and poller.poll(0):  # everything already in the pipe joins this batch
            read()
        waiting.extend(unpacker)
        if not waiting:
            continue
        if eof and os.getppid() != parent:
            return  # the daemon died: commit nothing more (see the module docstring)
        batch: list[Request] = []
        ids: list[int] = []
        ops = 0
        while waiting and ops < max_batch_ops:
            req_id, wire_ops = waiting.popleft()
            request = Request(())
            try:
                request.ops = [op_from_wire(w) for w in wire_ops]
            except Exception as exc:  # noqa: BLE001 - a malformed op fails its own request
                request.error = InvalidOperationError(f"undecodable op: {type(exc).__name__}: {exc}")
            ops += len(wire_ops)
            batch.append(request)
            ids.append(req_id)
        committer.commit_batch(batch)
        answers = []
        for req_id, request in zip(ids, batch):
            error = request.error
            if error is None:
                answers.append([req_id, request.results, None, ""])
            else:
                answers.append([req_id, None, type(error).__name__, str(error)])
        failure = committer.failure
        stats = [
            committer.commits, committer.ops_committed, committer.requests_failed, committer.map_growths,
            committer.last_batch_ops, committer.largest_batch_ops, committer.last_latency,
            None if failure is None else type(failure).__name__, "" if failure is None else str(failure),
        ]  # fmt: skip
        committer.last_latency = None
        logs, _Logs.events = _Logs.events, []
        try:
            write_all(wfd, packer.pack([answers, stats, logs]))
        except OSError:  # BrokenPipeError: the daemon is gone; commit nothing more
            return


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a pipe, blocking or not (waits for room); both ends use it."""
    view = memoryview(data)
    poller: Any = None  # made on the first full pipe only
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            if poller is None:
                poller = select.poll()
                poller.register(fd, select.POLLOUT)
            poller.poll(1000)


if __name__ == "__main__":
    sys.exit(main())
