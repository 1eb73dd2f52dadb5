"""`smsswitch routes check|explain`: the operator's tools for the route file.

The top-level CLI mounts these with `add_routes_subcommands(subparsers)` and runs
`args.func(args)`, which returns the exit code. `python -m smsswitch.routing.cli check FILE`
works on its own too (a leading "routes" is optional).

    routes check FILE [--config DAEMON_YAML | --tenants a,b --connectors x,y]
        exit 0: usable (warnings allowed); 1: errors. One gcc-style line per problem.
    routes explain [--routes FILE] [--config DAEMON_YAML] --tenant T --to NUMBER
                   [--from SENDER] [--at ISO_TIME] [--data-coding N] [--region ZW] [--draw F] [--json]
    routes explain --mo --to 60682 --text "60682 hello" [--from +2637...] [--connector sim]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from smsswitch.numbers import parse_number
from smsswitch.routing.compiler import check_routes, compile_routes
from smsswitch.yamlconf import ConfigError, ConfigErrors, load_yaml

__all__ = ["add_routes_subcommands", "main"]

DEFAULT_ROUTES = "config/routes.yaml"


@attrs.frozen
class DaemonNames:
    """What routing needs from the daemon config: names to check against, and defaults."""

    tenants: frozenset[str] | None = None
    connectors: frozenset[str] | None = None
    routes_file: str | None = None
    regions: dict[str, str] = attrs.field(factory=dict)  # tenant → default_region


def read_daemon_names(path: str) -> DaemonNames:
    """Tenant/connector names from a daemon YAML (`tenants:`/`connectors:` as a list of
    mappings with `name` or `system_id`, or a mapping keyed by name).

    Stand-in until the daemon's own config loader is wired in here.
    """
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigErrors([ConfigError(path, 1, 1, "daemon config: expected a mapping")])

    def names(key: str) -> tuple[frozenset[str] | None, dict[str, Any]]:
        section = doc.get(key)
        if section is None:
            return None, {}
        if isinstance(section, dict):
            return frozenset(str(k) for k in section), {str(k): v for k, v in section.items()}
        entries = {}
        for item in section:
            if isinstance(item, dict) and (item.get("name") or item.get("system_id")):
                entries[str(item.get("name") or item.get("system_id"))] = item
        return frozenset(entries), entries

    tenants, tenant_entries = names("tenants")
    connectors, _ = names("connectors")
    routes = doc.get("routes_file") or doc.get("routes")
    if isinstance(routes, str) and not Path(routes).is_absolute():
        routes = str(Path(path).parent / routes)  # relative to the config file, as the daemon reads it
    regions = {
        name: entry["default_region"]
        for name, entry in tenant_entries.items()
        if isinstance(entry, dict) and isinstance(entry.get("default_region"), str)
    }
    return DaemonNames(tenants, connectors, routes if isinstance(routes, str) else None, regions)


def format_problem(problem: ConfigError) -> str:
    text = f"{problem.file}:{problem.line}:{problem.column}: {problem.severity}: {problem.message}"
    return text + (f" (hint: {problem.hint})" if problem.hint else "")


def _split_names(value: str | None) -> frozenset[str] | None:
    return frozenset(n.strip() for n in value.split(",") if n.strip()) if value else None


def _names(args: argparse.Namespace) -> DaemonNames:
    names = read_daemon_names(args.config) if args.config else DaemonNames()
    tenants = _split_names(args.tenants)
    connectors = _split_names(args.connectors)
    return attrs.evolve(
        names,
        tenants=tenants if tenants is not None else names.tenants,
        connectors=connectors if connectors is not None else names.connectors,
    )


def _add_name_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="daemon config YAML: tenant and connector names are checked against it")
    parser.add_argument("--tenants", help="comma-separated tenant names to check against (instead of --config)")
    parser.add_argument("--connectors", help="comma-separated connector names to check against (instead of --config)")


def run_check(args: argparse.Namespace) -> int:
    try:
        names = _names(args)
    except ConfigErrors as exc:
        for problem in exc.errors:
            print(format_problem(problem), file=sys.stderr)
        return 1
    errors, warnings = check_routes(args.file, names.tenants, names.connectors)
    problems = sorted(errors + warnings, key=lambda p: (p.file, p.line, p.column))
    for problem in problems:
        print(format_problem(problem))
    if errors:
        print(f"{args.file}: {len(errors)} error(s), {len(warnings)} warning(s)", file=sys.stderr)
        return 1
    unchecked = [kind for kind, known in (("tenant", names.tenants), ("connector", names.connectors)) if known is None]
    note = f"; {' and '.join(unchecked)} names not checked (give --config)" if unchecked else ""
    print(f"{args.file}: OK, {len(warnings)} warning(s){note}")
    return 0


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def run_explain(args: argparse.Namespace) -> int:
    try:
        names = _names(args)
        routes = args.routes or names.routes_file or DEFAULT_ROUTES
        table = compile_routes(routes, names.tenants, names.connectors)
        moment = _parse_time(args.at)
    except ConfigErrors as exc:
        for problem in exc.errors:
            print(format_problem(problem), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"bad --at: {exc}", file=sys.stderr)
        return 2
    if args.mo:
        if args.text is None:
            print("--mo needs --text", file=sys.stderr)
            return 2
        sender = parse_number(args.sender or "", 0, 1, args.region, table.networks)
        explanation = table.explain_mo(args.to, args.text, sender, args.connector or "")
    else:
        if not args.tenant:
            print("MT explain needs --tenant (or give --mo)", file=sys.stderr)
            return 2
        region = args.region or names.regions.get(args.tenant)
        dest = parse_number(args.to, 0, 1, region, table.networks)
        explanation = table.explain_mt(args.tenant, dest, args.sender or "", args.data_coding, moment, args.draw)
    if args.json:
        print(json.dumps(explanation.as_dict(), indent=2, default=str))
    else:
        print(explanation.render())
    return 0


def add_routes_subcommands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add `routes check` and `routes explain`; each sets `func(args) -> exit code`."""
    routes = subparsers.add_parser("routes", help="check and explain route tables")
    commands = routes.add_subparsers(dest="routes_command", required=True)

    check = commands.add_parser("check", help="validate a route file (exit 0 good, 1 bad)")
    check.add_argument("file")
    _add_name_options(check)
    check.set_defaults(func=run_check)

    explain = commands.add_parser("explain", help="show which rule a message matches and why the others do not")
    explain.add_argument("--routes", help=f"route file (default: from --config, else {DEFAULT_ROUTES})")
    _add_name_options(explain)
    explain.add_argument("--mo", action="store_true", help="explain an MO (inbound) message")
    explain.add_argument("--tenant", help="MT: the submitting tenant")
    explain.add_argument("--to", required=True, help="MT: destination number; MO: the number it was sent to")
    explain.add_argument("--from", dest="sender", help="MT: source address / sender id; MO: the sender's number")
    explain.add_argument("--text", help="MO: message text (its first word is the keyword)")
    explain.add_argument("--connector", help="MO: connector the message came from")
    explain.add_argument("--at", help="ISO time, e.g. 2024-05-15T10:00+02:00 (default now; no offset means UTC)")
    explain.add_argument("--data-coding", type=int, default=0)
    explain.add_argument("--region", help="region for national-format numbers (default: the tenant's)")
    explain.add_argument("--draw", type=float, default=0.0, help="random draw in [0,1) for weighted splits")
    explain.add_argument("--json", action="store_true", help="structured output")
    explain.set_defaults(func=run_explain)
    return routes


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] != "routes":
        args_list.insert(0, "routes")
    parser = argparse.ArgumentParser(prog="smsswitch")
    add_routes_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(args_list)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
