"""`journal` commands: text and JSON output, writes beside a running writer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pytest
import trio

from smsswitch.journal import (
    AddOutbox,
    DeadLetterOutbox,
    JournalConfig,
    MessageRecord,
    MessageState,
    OutboxEntry,
    OutboxKind,
    PutMessage,
    Transition,
    open_journal,
)
from smsswitch.journal.cli import add_journal_subcommands, main, parse_duration, run

NUMBER = "+263771234567"


def populate(path: Path) -> dict[str, str]:
    async def go() -> dict[str, str]:
        async with open_journal(JournalConfig(path=path, initial_map_size=4 << 20)) as j:
            now = time.time()
            ids = {}
            for name, tenant, dest in (("old", "acme", NUMBER), ("fresh", "acme", "+263779999999"), ("other", "globex", NUMBER)):
                r = MessageRecord(id=j.new_id(), tenant=tenant, source="ACME", destination=dest, created=now - 10 * 86400, payload=b"hi")
                await j.commit([PutMessage(r)])
                ids[name] = r.id
            await j.commit([Transition(ids["old"], MessageState.DELIVERED, now - 9 * 86400, connector="c", carrier_id="ff")])
            await j.commit([Transition(ids["other"], MessageState.ENROUTE, now, connector="c", carrier_id="100")])
            entry = OutboxEntry(id=j.new_id(), tenant="acme", kind=OutboxKind.RECEIPT, created=now, msisdn=NUMBER)
            await j.commit([AddOutbox(entry), DeadLetterOutbox(entry.id, "tenant never acked", now)])
            ids["letter"] = entry.id
            return ids

    return trio.run(go)


def cli_json(capsys, path: Path, *argv: str) -> object:
    assert main(["--path", str(path), *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_read_commands(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j"
    ids = populate(path)
    stats = cli_json(capsys, path, "stats")
    assert stats["messages"] == 3 and stats["dead_letters"] == 1
    assert stats["states"]["delivered"] == 1 and stats["states"]["accepted"] == 1 and stats["states"]["enroute"] == 1

    shown = cli_json(capsys, path, "show", ids["old"])
    assert shown["message"]["state"] == "delivered" and shown["message"]["carrier_id"] == "ff"
    assert [h["state"] for h in shown["message"]["history"]] == ["accepted", "delivered"]
    assert main(["--path", str(path), "show", ids["old"]]) == 0
    text = capsys.readouterr().out
    assert "DELIVERED (SMPP DELIVERED)" in text and NUMBER in text
    assert main(["--path", str(path), "show", "0" * 20]) == 1

    assert {m["id"] for m in cli_json(capsys, path, "find", "--to", NUMBER)} == {ids["old"], ids["other"]}
    assert [m["id"] for m in cli_json(capsys, path, "find", "--tenant", "acme", "--state", "accepted")] == [ids["fresh"]]
    assert [m["id"] for m in cli_json(capsys, path, "find", "--state", "enroute")] == [ids["other"]]
    assert main(["--path", str(path), "find"]) == 1

    (letter,) = cli_json(capsys, path, "dead-letters")
    assert letter["id"] == ids["letter"] and letter["reason"] == "tenant never acked"
    assert cli_json(capsys, path, "check") == {"ok": True, "problems": []}


def test_write_commands(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j"
    ids = populate(path)
    assert cli_json(capsys, path, "redrive", ids["letter"]) == {"redriven": [ids["letter"]], "not_found": []}
    assert cli_json(capsys, path, "purge", "--older-than", "7d") == {"purged": 1, "dead_letters_purged": 0, "older_than_s": 604800.0}
    erased = cli_json(capsys, path, "erase", "--msisdn", NUMBER)
    assert erased == {"messages": 1, "outbox": 1, "dead_letters": 0, "total": 2}
    stats = cli_json(capsys, path, "stats")
    assert stats["messages"] == 1 and stats["outbox"] == 0
    assert main(["--path", str(path), "erase", "--msisdn", "ACME"]) == 1
    assert main(["--path", str(path), "purge", "--older-than", "1h"]) == 0
    assert "purged 0" in capsys.readouterr().out


def test_missing_journal_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["--path", str(tmp_path / "nothing"), "stats"]) == 1
    assert "no journal" in capsys.readouterr().err
    assert main(["--path", str(tmp_path / "nothing"), "purge", "--older-than", "1d"]) == 1


def test_durations() -> None:
    assert parse_duration("7d") == 604800 and parse_duration("90m") == 5400 and parse_duration("30") == 30
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")


def test_wires_into_a_top_level_parser(tmp_path: Path, capsys) -> None:
    path = tmp_path / "j"
    populate(path)
    parser = argparse.ArgumentParser(prog="smsswitch")
    add_journal_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["journal", "stats", "--json"])
    assert args.command == "journal" and args.journal_command == "stats"
    assert run(args, path) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 3


def test_cli_reads_and_writes_while_a_daemon_holds_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    ids = populate(path)
    cli = [sys.executable, "-m", "smsswitch.journal.cli", "--path", str(path)]

    async def go() -> None:
        async with open_journal(JournalConfig(path=path, initial_map_size=4 << 20)) as j:
            stats = await trio.run_process([*cli, "stats", "--json"], capture_stdout=True)
            assert json.loads(stats.stdout)["messages"] == 3
            await trio.run_process([*cli, "purge", "--older-than", "7d"], capture_stdout=True)
            assert j.get(ids["old"]) is None  # the daemon sees the other process's commit
            r = MessageRecord(id=j.new_id(), tenant="acme", source="A", destination=NUMBER, created=time.time())
            await j.commit([PutMessage(r)])  # and keeps writing afterwards

    trio.run(go)
