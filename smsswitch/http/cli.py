"""`smsswitch audit` (list the audit log, read-only, safe beside a running daemon) and
`smsswitch apikey new` (make a key and the hash the config stores).

The top-level CLI wires them in like the journal's commands:

    parser = http_cli.add_audit_subcommands(sub)      # then add --config/--path to it
    ... return http_cli.run(args, journal_path)
    http_cli.add_apikey_subcommands(sub)              # sets func(args) itself
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smsswitch.http import audit
from smsswitch.http.auth import SCOPES, new_api_key
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal


def add_audit_subcommands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit`; it sets `args.audit_handler`. Call `run(args, journal_path)`."""
    parser = subparsers.add_parser("audit", help="list the audit log (admin actions, admin-key use)",
                                   description="List the audit log, oldest first.")  # fmt: skip
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--after", help="continue after this record id")
    parser.add_argument("--since", type=_duration, help="only the last DURATION, e.g. 1h, 7d")
    parser.add_argument("--actor", help="only this API key id")
    parser.add_argument("--action", help="e.g. erase, suppression.add, routes.reload, redrive")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(audit_handler=cmd_audit)


def _duration(text: str) -> float:
    from smsswitch.journal.cli import parse_duration

    return parse_duration(text)


def run(args: argparse.Namespace, path: str | Path) -> int:
    try:
        return int(args.audit_handler(args, Path(path)))
    except (JournalError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_audit(args: argparse.Namespace, path: Path) -> int:
    journal = Journal.open_readonly(path)
    try:
        since = time.time() - args.since if args.since else None
        found = audit.entries(journal, limit=args.limit, after=args.after, since=since, actor=args.actor,
                              action=args.action)  # fmt: skip
    finally:
        journal.close()
    for e in found:
        if args.json:
            print(json.dumps(e.to_json(), sort_keys=True))
        else:
            when = dt.datetime.fromtimestamp(e.at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
            detail = " " + json.dumps(e.detail, sort_keys=True) if e.detail else ""
            print(f"{e.id}  {when}  {e.actor:<14} {e.tenant:<12} {e.action:<20} {e.target or '-':<16} "
                  f"{e.outcome:<7} {e.source}{detail}")  # fmt: skip
    if not args.json:
        print(f"{len(found)} record(s)" + (" (limit reached)" if len(found) >= args.limit else ""))
    return 0


def add_apikey_subcommands(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("apikey", help="make an API key for the HTTP API")
    commands = parser.add_subparsers(dest="apikey_command", required=True)
    new = commands.add_parser("new", help="print a new key (shown once) and the config entry with its hash")
    new.add_argument("--id", required=True, help="key id (A-Z a-z 0-9 _ -), unique in the config")
    new.add_argument("--scopes", default="send,read", help=f"comma-separated, of {', '.join(sorted(SCOPES))}")
    new.set_defaults(func=cmd_apikey_new)
    return parser


def cmd_apikey_new(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    unknown = set(scopes) - SCOPES
    if unknown:
        print(f"error: unknown scope(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        token, key_hash = new_api_key(args.id)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"key (give it to the tenant; it is not stored anywhere): {token}")
    print("config entry (tenants.<name>.api_keys):")
    print(f"  - {{id: {args.id}, key_hash: '{key_hash}', scopes: [{', '.join(scopes)}]}}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smsswitch.http.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    audit_parser = add_audit_subcommands(sub)
    audit_parser.add_argument("--path", required=True, help="journal directory")
    add_apikey_subcommands(sub)
    args = parser.parse_args(argv)
    if args.command == "audit":
        return run(args, args.path)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
