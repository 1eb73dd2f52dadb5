"""A shared/exclusive gate around LMDB's map: readers share it, a map resize excludes them.

LMDB's set_mapsize replaces the memory map, so no transaction of this process may be open
while it runs (the library does not check; a reader on the old map would touch unmapped
memory). Readers hold the gate only for the few microseconds of a lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class GateTimeout(Exception):
    """Readers did not leave in time (someone holds a read transaction across a wait)."""


class MapGate:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._exclusive = False

    def acquire_shared(self) -> None:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._readers += 1

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0 and self._exclusive:
                self._cond.notify_all()

    @contextmanager
    def exclusive(self, timeout: float) -> Iterator[None]:
        """Hold the map alone; GateTimeout if readers stay longer than `timeout` seconds."""
        with self._cond:
            if self._exclusive:
                raise RuntimeError("MapGate.exclusive is not reentrant")
            self._exclusive = True
            try:
                if not self._cond.wait_for(lambda: self._readers == 0, timeout):
                    raise GateTimeout(f"{self._readers} reader(s) held the journal map for {timeout}s")
            except BaseException:
                self._exclusive = False
                self._cond.notify_all()
                raise
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()
