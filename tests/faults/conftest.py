"""Fault tests: the fast ones run in CI; `@pytest.mark.slow` ones (longer kill loops) only when
asked for:  SMSSWITCH_SLOW=1 .venv/bin/python -m pytest tests/faults -m slow -p no:cacheprovider
(or any -m expression naming `slow`). scripts/soak.py and scripts/fuzz_server.py are the long runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SMSSWITCH_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow fault test: set SMSSWITCH_SLOW=1 (see tests/faults/conftest.py)")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)
