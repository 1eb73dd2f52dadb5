"""Fixtures for journal tests: a real LMDB journal in a temp dir, and record builders."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from smsswitch.journal import (
    Journal,
    JournalConfig,
    MessageRecord,
    OutboxEntry,
    OutboxKind,
    open_journal,
)

_numbers = itertools.count(263771000000)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
async def journal(journal_path: Path) -> AsyncIterator[Journal]:
    async with open_journal(JournalConfig(path=journal_path, initial_map_size=4 << 20)) as j:
        yield j


@pytest.fixture
def make_record(journal: Journal) -> Callable[..., MessageRecord]:
    def make(**overrides: Any) -> MessageRecord:
        fields: dict[str, Any] = {
            "id": journal.new_id(),
            "tenant": "acme",
            "source": "ACME",
            "destination": f"+{next(_numbers)}",
            "created": time.time(),
            "payload": b"hello",
            "registered_delivery": 1,
        }
        fields.update(overrides)
        return MessageRecord(**fields)

    return make


@pytest.fixture
def make_entry(journal: Journal) -> Callable[..., OutboxEntry]:
    def make(**overrides: Any) -> OutboxEntry:
        fields: dict[str, Any] = {
            "id": journal.new_id(),
            "tenant": "acme",
            "kind": OutboxKind.RECEIPT,
            "payload": {"text": "id:x stat:DELIVRD"},
            "created": time.time(),
            "msisdn": f"+{next(_numbers)}",
        }
        fields.update(overrides)
        return OutboxEntry(**fields)

    return make
