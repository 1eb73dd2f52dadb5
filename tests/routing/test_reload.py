"""A RouteTable is an immutable value: reload compiles a new one and swaps the reference only
when it is clean; decisions already taken are values too and never change."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from smsswitch.routing import RouteTable, compile_routes
from smsswitch.yamlconf import ConfigErrors

from .conftest import WEDNESDAY_NOON_HARARE as NOW
from .conftest import number

V1 = "version: 1\nmt:\n  - {name: all, connectors: [sim]}\n"
V2 = "version: 1\nmt:\n  - {name: all, connectors: [backup, sim]}\n"
BAD = "version: 1\nmt:\n  - {name: all, conectors: [backup]}\n"


def reload(current: RouteTable, path: Path) -> tuple[RouteTable, list[str]]:
    """What the daemon does on SIGHUP (sketch): keep the running table unless the new one is clean."""
    try:
        return compile_routes(path, None, {"sim", "backup"}), []
    except ConfigErrors as exc:
        return current, [str(e) for e in exc.errors]


def test_reload_swaps_only_clean_tables(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(V1)
    running = compile_routes(path, None, {"sim", "backup"})
    in_flight = running.route_mt("demo", number("+263771234567"), "", 0, NOW)

    path.write_text(BAD)
    after_bad, errors = reload(running, path)
    assert after_bad is running
    assert errors == [f"{path}:3:17: unknown key 'conectors' in mt rule (hint: did you mean 'connectors'?)"]

    path.write_text(V2)
    after_good, errors = reload(running, path)
    assert errors == [] and after_good is not running
    assert after_good.content_hash != running.content_hash
    assert after_good.route_mt("demo", number("+263771234567"), "", 0, NOW).connectors == ("backup", "sim")
    assert in_flight.connectors == ("sim",)  # the message routed before keeps its decision


def test_tables_and_decisions_are_frozen(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(V1)
    table = compile_routes(path)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        table.mt_rules = ()  # type: ignore[misc]
    decision = table.route_mt("demo", number("+263771234567"), "", 0, NOW)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        decision.connectors = ("other",)  # type: ignore[misc]
