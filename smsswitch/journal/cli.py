"""`smsswitch journal ...`: inspect and maintain the journal, safe while the daemon runs.

Read commands open the environment read-only (LMDB readers never block the daemon's
writer); purge, erase and redrive write through an ordinary write transaction, which LMDB
serialises with the daemon's own by its lock file.

The top-level CLI wires this in with `add_journal_subcommands(subparsers)` and then calls
`run(args, journal_path)`; `python -m smsswitch.journal.cli --path DIR stats` works alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from smsswitch.journal import keys, retention
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal, JournalConfig, open_journal
from smsswitch.journal.records import DeadLetter, MessageRecord, MessageState

Handler = Callable[[argparse.Namespace, Path], int]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_journal_subcommands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `journal <command>` to a top-level parser's subparsers. Each command sets
    `args.journal_handler`; call `run(args, path)` with the configured journal path."""
    parser = subparsers.add_parser("journal", help="inspect and maintain the message journal")
    add_commands(parser.add_subparsers(dest="journal_command", required=True, metavar="COMMAND"))
    return parser


def add_commands(sub: Any) -> None:
    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(journal_handler=handler)
        return p

    command("stats", cmd_stats, "counts per state, outbox per tenant, dead letters, map use")
    p = command("show", cmd_show, "one message with its history")
    p.add_argument("id")
    p = command("find", cmd_find, "messages by tenant, number and/or state (oldest first)")
    p.add_argument("--tenant")
    p.add_argument("--to", help="phone number (source or destination), e.g. +263771234567")
    p.add_argument("--state", type=_state, help="e.g. enroute, delivered")
    p.add_argument("--limit", type=int, default=50)
    p = command("dead-letters", cmd_dead_letters, "what gave up, and why")
    p.add_argument("--limit", type=int, default=100)
    p = command("redrive", cmd_redrive, "put dead letters back to work")
    p.add_argument("ids", nargs="+", metavar="ID")
    p = command("purge", cmd_purge, "remove terminal messages and dead letters older than a given age")
    p.add_argument("--older-than", type=parse_duration, required=True, help="e.g. 7d, 12h, 90m")
    p.add_argument("--batch", type=int, default=retention.PURGE_BATCH)
    p = command("erase", cmd_erase, "remove every trace of one phone number")
    p.add_argument("--msisdn", required=True)
    command("check", cmd_check, "verify that records and indexes agree")


def run(args: argparse.Namespace, path: str | Path) -> int:
    """Run the parsed journal command against the journal directory `path`."""
    try:
        return int(args.journal_handler(args, Path(path)))
    except (JournalError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smsswitch.journal.cli")
    parser.add_argument("--path", required=True, help="journal directory")
    add_commands(parser.add_subparsers(dest="journal_command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return run(args, args.path)


# ---------------------------------------------------------------------- read commands


def cmd_stats(args: argparse.Namespace, path: Path) -> int:
    journal = Journal.open_readonly(path)
    try:
        with journal.read() as txn:
            counts = journal.store.counts(txn)
            outbox = journal.store.outbox_counts(txn)
            schema = journal.store.meta_value(txn, "schema")
            last_id = journal.store.last_id(txn)
        info = journal.map_info()
    finally:
        journal.close()
    states = {s.name.lower(): counts[f"state.{s.name.lower()}"] for s in MessageState}
    data = {
        "path": str(path),
        "schema": schema,
        "messages": counts["messages"],
        "states": states,
        "outbox": counts["outbox"],
        "outbox_by_tenant": outbox,
        "dead_letters": counts["dead_letters"],
        "correlations": counts["correlation"],
        "last_id": last_id,
        "map_size": info["map_size"],
        "used_bytes": info["used_bytes"],
    }
    if args.json:
        _print_json(data)
        return 0
    print(f"journal      {path} (schema {schema})")
    print(f"messages     {data['messages']}")
    for name, n in states.items():
        if n:
            print(f"  {name:<14}{n}")
    print(f"outbox       {data['outbox']}")
    for tenant, n in sorted(outbox.items()):
        print(f"  {tenant:<14}{n}")
    print(f"dead letters {data['dead_letters']}")
    print(f"correlations {data['correlations']}")
    print(f"map          {_mib(info['used_bytes'])} used of {_mib(info['map_size'])}")
    return 0


def cmd_show(args: argparse.Namespace, path: Path) -> int:
    journal = Journal.open_readonly(path)
    try:
        with journal.read() as txn:
            record = journal.store.get_message(txn, args.id)
            letter = journal.store.get_dead_letter(txn, args.id)
            entry = journal.store.get_outbox(txn, args.id)
    finally:
        journal.close()
    if record is None and letter is None and entry is None:
        print(f"error: no message, outbox entry or dead letter {args.id}", file=sys.stderr)
        return 1
    if args.json:
        _print_json({"message": record, "outbox_entry": entry, "dead_letter": letter})
        return 0
    if record is not None:
        _print_record(record)
    if entry is not None:
        print(f"outbox entry {entry.id}: {entry.kind.value} for {entry.tenant}, attempts {entry.attempts}")
    if letter is not None:
        print(f"dead letter since {_time(letter.at)}: {letter.reason}")
    return 0


def cmd_find(args: argparse.Namespace, path: Path) -> int:
    if not (args.tenant or args.to or args.state):
        raise ValueError("give at least one of --tenant, --to, --state")
    journal = Journal.open_readonly(path)
    found: list[MessageRecord] = []
    try:
        with journal.read() as txn:
            store = journal.store
            if args.to:
                digits = keys.msisdn_digits(args.to)
                if digits is None:
                    raise ValueError(f"not a phone number: {args.to!r}")
                ids = (i for tag, i in store.iter_msisdn(txn, digits) if tag == keys.TAG_MESSAGE)
            elif args.tenant:
                ids = store.iter_tenant_messages(txn, args.tenant)
            else:
                ids = (i for _k, _d, i in store.iter_state(txn, args.state))
            for message_id in ids:
                record = store.get_message(txn, message_id)
                if record is None:
                    continue
                if args.tenant and record.tenant != args.tenant:
                    continue
                if args.state and record.state is not args.state:
                    continue
                found.append(record)
                if len(found) >= args.limit:
                    break
    finally:
        journal.close()
    if args.json:
        _print_json(found)
        return 0
    for r in found:
        print(f"{r.id}  {r.state.name:<13} {r.tenant:<16} {r.source:<16} {r.destination:<16} {_time(r.updated)}")
    print(f"{len(found)} message(s)" + (" (limit reached)" if len(found) >= args.limit else ""))
    return 0


def cmd_dead_letters(args: argparse.Namespace, path: Path) -> int:
    journal = Journal.open_readonly(path)
    try:
        letters: list[DeadLetter] = journal.dead_letters(args.limit)
    finally:
        journal.close()
    if args.json:
        _print_json(letters)
        return 0
    for d in letters:
        print(f"{d.id}  {d.kind.value:<8} {d.tenant:<16} {_time(d.at)}  {d.reason}")
    print(f"{len(letters)} dead letter(s)")
    return 0


def cmd_check(args: argparse.Namespace, path: Path) -> int:
    journal = Journal.open_readonly(path)
    try:
        problems = journal.check()
    finally:
        journal.close()
    if args.json:
        _print_json({"ok": not problems, "problems": problems})
    else:
        for line in problems:
            print(line)
        print("ok" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 2


# ---------------------------------------------------------------------- write commands


def _write(path: Path, fn: Callable[[Journal], Any]) -> Any:
    if not (path / "data.mdb").exists():
        raise ValueError(f"no journal at {path}")

    async def go() -> Any:
        async with open_journal(JournalConfig(path=path)) as journal:
            return await fn(journal)

    return trio.run(go)


def cmd_redrive(args: argparse.Namespace, path: Path) -> int:
    done = _write(path, lambda j: retention.redrive(j, args.ids))
    missing = [i for i in args.ids if i not in set(done)]
    if args.json:
        _print_json({"redriven": done, "not_found": missing})
    else:
        print(f"redriven {len(done)}" + (f"; not found: {' '.join(missing)}" if missing else ""))
    return 0 if not missing else 1


def cmd_purge(args: argparse.Namespace, path: Path) -> int:
    async def both(journal: Journal) -> tuple[int, int]:
        messages = await retention.purge(journal, args.older_than, batch=args.batch)
        letters = await retention.purge_dead_letters(journal, args.older_than, batch=args.batch)
        return messages, letters

    removed, letters = _write(path, both)
    if args.json:
        _print_json({"purged": removed, "dead_letters_purged": letters, "older_than_s": args.older_than})
    else:
        print(f"purged {removed} terminal message(s) and {letters} dead letter(s) older than {args.older_than:g}s")
    return 0


def cmd_erase(args: argparse.Namespace, path: Path) -> int:
    if keys.msisdn_digits(args.msisdn) is None:
        raise ValueError(f"not a phone number: {args.msisdn!r}")
    counts = _write(path, lambda j: retention.erase(j, args.msisdn))
    data = attrs.asdict(counts) | {"total": counts.total}
    if args.json:
        _print_json(data)
    else:
        print(f"erased {counts.messages} message(s), {counts.outbox} outbox entr(y/ies), {counts.dead_letters} dead letter(s)")
    return 0


# ---------------------------------------------------------------------- helpers


def parse_duration(text: str) -> float:
    """'7d', '12h', '90m', '30s', '2w' or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 7d, 12h, 90m)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _state(text: str) -> MessageState:
    try:
        return MessageState[text.strip().upper()]
    except KeyError:
        names = ", ".join(s.name.lower() for s in MessageState)
        raise argparse.ArgumentTypeError(f"unknown state {text!r} (one of {names})") from None


def _print_record(r: MessageRecord) -> None:
    print(f"message      {r.id}")
    print(f"state        {r.state.name} (SMPP {r.state.smpp.name})" + (f", error {r.error:#x}" if r.error is not None else ""))
    print(f"tenant       {r.tenant}" + (f" bind {r.bind}" if r.bind else ""))
    print(f"from / to    {r.source} -> {r.destination}")
    print(f"created      {_time(r.created)}   updated {_time(r.updated)}")
    print(f"route        {r.route or '-'} via {r.connector or '-'}   carrier id {r.carrier_id or '-'}")
    print(f"payload      {len(r.payload)} bytes, data_coding {r.data_coding:#04x}, esm_class {r.esm_class:#04x}")
    if r.part is not None:
        print(f"part         {r.part.seq}/{r.part.total} ref {r.part.ref}")
    print(f"receipt      registered_delivery {r.registered_delivery:#04x}   attempts {r.attempts}")
    if r.validity is not None:
        print(f"valid until  {_time(r.validity)}")
    print("history")
    for h in r.history:
        print(f"  {_time(h.at)}  {h.state.name:<13} {h.detail or ''}")


def _time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def _to_json(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _to_json(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, enum.Enum):
        return value.name.lower() if isinstance(value, MessageState) else value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_to_json(value), sort_keys=True))


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is for output
    sys.exit(main())
