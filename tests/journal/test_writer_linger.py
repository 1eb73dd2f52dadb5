"""The writer process lingers (gathers a fuller batch) only after an idle spell: requests that
came in while the last batch committed are committed next without waiting. Drives the
process's serve loop over real pipes with a committer that only records its batches."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import msgpack

from smsswitch.journal.writer_child import _serve, write_all

LINGER = 2.0  # long, so that "did not linger" cannot be a slow machine's accident


class RecordingCommitter:
    """Stands in for BatchCommitter: remembers each batch's size and when it began."""

    def __init__(self, during_first_commit: Any = None) -> None:
        self.batches: list[tuple[float, int]] = []
        self.during_first_commit = during_first_commit
        self.failure = None
        self.commits = self.ops_committed = self.requests_failed = self.map_growths = 0
        self.last_batch_ops = self.largest_batch_ops = 0
        self.last_latency = None

    def commit_batch(self, batch: list[Any]) -> None:
        self.batches.append((time.monotonic(), len(batch)))
        if len(self.batches) == 1 and self.during_first_commit is not None:
            self.during_first_commit()
        for request in batch:
            request.error = None
            request.results = []
        self.commits += 1


def _request(req_id: int) -> bytes:
    return msgpack.packb([req_id, []], use_bin_type=True)


def _serve_in_thread(committer: RecordingCommitter) -> tuple[int, int, threading.Thread]:
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    packer = msgpack.Packer(use_bin_type=True, default=repr)
    thread = threading.Thread(
        target=_serve, args=(committer, to_child_r, from_child_w, packer, 2000, LINGER), daemon=True
    )
    thread.start()
    return to_child_w, from_child_r, thread


def _answers(fd: int, count: int) -> list[int]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    ids: list[int] = []
    deadline = time.monotonic() + 30
    while len(ids) < count and time.monotonic() < deadline:
        unpacker.feed(os.read(fd, 65536))
        for answers, _stats, _logs in unpacker:
            ids += [answer[0] for answer in answers]
    return ids


def test_after_an_idle_spell_the_batch_gathers_for_the_linger() -> None:
    committer = RecordingCommitter()
    to_child, from_child, thread = _serve_in_thread(committer)
    # A first request, answered, then quiet: the loop now waits in its read with nothing
    # queued, i.e. idle (a request already waiting when the loop first looks is not).
    write_all(to_child, _request(0))
    assert _answers(from_child, 1) == [0]
    time.sleep(0.3)
    started = time.monotonic()
    write_all(to_child, _request(1))
    time.sleep(LINGER / 4)
    write_all(to_child, _request(2))  # within the linger: joins request 1's batch
    assert sorted(_answers(from_child, 2)) == [1, 2]
    assert [size for _, size in committer.batches] == [1, 2]
    assert committer.batches[1][0] - started >= LINGER * 0.9
    os.close(to_child)
    thread.join(10)


def test_requests_queued_during_a_commit_do_not_wait_for_the_linger() -> None:
    to_child_box: list[int] = []

    def queue_more() -> None:  # arrive while the first batch is committing
        write_all(to_child_box[0], _request(2) + _request(3))

    committer = RecordingCommitter(during_first_commit=queue_more)
    to_child, from_child, thread = _serve_in_thread(committer)
    to_child_box.append(to_child)
    write_all(to_child, _request(1))
    assert sorted(_answers(from_child, 3)) == [1, 2, 3]
    (first_at, first_size), (second_at, second_size) = committer.batches
    assert (first_size, second_size) == (1, 2)
    assert second_at - first_at < LINGER / 2  # the old loop slept the full linger here
    os.close(to_child)
    thread.join(10)
