"""Shared fixtures: the full-featured route fixture and number helpers."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from smsswitch.numbers import NumberInfo, parse_number
from smsswitch.routing import RouteTable, compile_routes

HERE = Path(__file__).parent
FULL = HERE / "good" / "full.yaml"
TENANTS = {"demo", "acme", "beta"}
CONNECTORS = {"sim", "backup", "cheap"}
#: Wednesday 2024-05-15 10:00 UTC = 12:00 in Harare, 11:00 in London.
WEDNESDAY_NOON_HARARE = datetime(2024, 5, 15, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def table() -> RouteTable:
    return compile_routes(FULL, TENANTS, CONNECTORS)


def number(raw: str, ton: int = 1, region: str | None = None, table: RouteTable | None = None) -> NumberInfo:
    return parse_number(raw, ton, 1, region, table.networks if table else None)
