"""A journal op for tests that holds the writer process inside its transaction until released.

It crosses to the writer process as a pickle (any op without a compact wire form does), so it
signals through files, not thread events: `entered` appears when the writer holds it, and the
writer goes on once `release` exists (or after 10 s, so a failing test cannot hang the writer).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs
import trio


@attrs.define
class HoldOp:
    entered: str
    release: str

    @classmethod
    def in_dir(cls, directory: Path) -> HoldOp:
        return cls(str(directory / "hold-entered"), str(directory / "hold-release"))

    def apply(self, store, txn) -> str:
        Path(self.entered).touch()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            time.sleep(0.002)
        return "released"

    async def wait_entered(self, timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not os.path.exists(self.entered):
                await trio.sleep(0.002)

    def let_go(self) -> None:
        Path(self.release).touch()
