from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smsswitch.journal.journal import Journal, JournalConfig, open_journal


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with open_journal(JournalConfig(path=tmp_path / "journal", sync=False)) as j:
        yield j
