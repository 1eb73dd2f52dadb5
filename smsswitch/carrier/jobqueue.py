"""The connector's bounded job queue, shared by all its sessions.

New jobs wait for room (back-pressure up to the core); jobs coming back from a dead session or
a throttled/timed-out submit go to the FRONT and never wait: they were admitted once already,
and refusing them would lose them. `reserve` lets the core hold a tenant until its next batch
fits, beside the room already promised to other batches (woken when the room its waiters
need is there, not at every pop).
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

import trio

from smsswitch.carrier.api import SubmitJob


class QueueClosed(Exception):
    """The connector is stopping and takes no new jobs."""


class JobQueue:
    """FIFO of SubmitJobs with a bound on new jobs and a wake-up for idle session writers."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self._jobs: deque[SubmitJob] = deque()
        self._space = trio.Event()
        self._closed = False
        # Writers with window room that are waiting for work: poked when work arrives.
        self._idle: set[trio.Event] = set()
        # Room promised by `reserve` and not yet given back with `release`.
        self.promised = 0
        # The first `reserve` caller waits for this, set once `_room_level` slots are free
        # (0: no one waits); the others queue on the lock behind it.
        self._reserving = trio.Lock()
        self._room = trio.Event()
        self._room_level = 0

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def closed(self) -> bool:
        return self._closed

    def room(self) -> int:
        """New jobs that fit now beside the promised ones (0 once closed)."""
        return 0 if self._closed else self.maxsize - len(self._jobs) - self.promised

    async def reserve(self, count: int) -> int:
        """Wait until `count` new jobs fit beside the promised ones (count at most half the
        queue, so two batches always fit), then promise them; returns how many were promised
        (0 if the queue closed), to give back with `release` once they were put. Callers are
        served first come, first served (trio.Lock is fair): a batch cannot starve behind
        later ones. The puts themselves do not look at promises."""
        count = max(1, min(count, self.maxsize // 2))
        lock = self._reserving
        if lock.locked() or self.room() < count:
            async with lock:
                while self.room() < count:
                    if self._closed:
                        return 0
                    self._room = trio.Event()
                    self._room_level = count
                    await self._room.wait()
        self.promised += count
        return count

    def release(self, count: int) -> None:
        """Give back room promised by `reserve`."""
        self.promised -= count
        self._check_room()

    def try_put(self, job: SubmitJob) -> bool:
        if self._closed or len(self._jobs) >= self.maxsize:
            return False
        self._jobs.append(job)
        self._wake_idle()
        return True

    async def put(self, job: SubmitJob) -> None:
        """Append `job`, waiting while the queue is full; QueueClosed once stopping."""
        while True:
            if self._closed:
                raise QueueClosed("connector is stopping")
            if len(self._jobs) < self.maxsize:
                self._jobs.append(job)
                self._wake_idle()
                return
            if self._space.is_set():
                self._space = trio.Event()
            await self._space.wait()

    def put_front(self, jobs: Iterable[SubmitJob]) -> None:
        """Give jobs back for a retry ahead of new work, keeping their relative order."""
        self._jobs.extendleft(reversed(list(jobs)))
        self._wake_idle()

    def pop(self) -> SubmitJob | None:
        if not self._jobs:
            return None
        job = self._jobs.popleft()
        if len(self._jobs) < self.maxsize:
            self._space.set()
            if self._room_level:
                self._check_room()
        return job

    def remove_if(self, predicate: Callable[[SubmitJob], bool]) -> list[SubmitJob]:
        """Take out the jobs `predicate` selects (O(n); for the rare expiry sweep)."""
        removed: list[SubmitJob] = []
        keep: deque[SubmitJob] = deque()
        for job in self._jobs:
            (removed if predicate(job) else keep).append(job)
        if removed:
            self._jobs = keep
            self._space.set()
            self._check_room()
        return removed

    def drain(self) -> list[SubmitJob]:
        """Take every queued job (on stop)."""
        jobs = list(self._jobs)
        self._jobs.clear()
        self._space.set()
        self._check_room()
        return jobs

    def close(self) -> None:
        """Refuse new jobs from now on; waiting `put`s raise QueueClosed."""
        self._closed = True
        self._space.set()
        self._room_level = 0
        self._room.set()
        self._wake_idle()

    def register_idle(self, event: trio.Event) -> None:
        """`event` is set the next time work arrives (or the queue closes)."""
        self._idle.add(event)

    def unregister_idle(self, event: trio.Event) -> None:
        self._idle.discard(event)

    def _check_room(self) -> None:
        """Wake the waiting `reserve` caller once the room it wants is there."""
        if self._room_level and self.room() >= self._room_level:
            self._room_level = 0
            self._room.set()

    def _wake_idle(self) -> None:
        if self._idle:
            for event in self._idle:
                event.set()
            self._idle.clear()
