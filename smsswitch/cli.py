"""The `smsswitch` command line.

Exit codes (the same for every command):
  0  success
  1  the command ran and found a problem (bad config, refused submit, check failed)
  2  usage error (unknown option, missing argument)
  3  timed out waiting (e.g. `send` got no receipt in time)
  4  could not connect (daemon or SMSC not reachable)
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CONNECT = 0, 1, 2, 3, 4


def _cmd_run(args: argparse.Namespace) -> int:
    from smsswitch.daemon import run_daemon

    return run_daemon(args.config, log_level=args.log_level, log_format=args.log_format)


def _cmd_check_config(args: argparse.Namespace) -> int:
    from smsswitch.daemon import check_config

    problems = check_config(args.file)
    errors = [line for line in problems if ": warning: " not in line]
    for line in problems:
        print(line, file=sys.stderr if line in errors else sys.stdout)
    if errors:
        print(f"{args.file}: {len(errors)} error(s)", file=sys.stderr)
        return EXIT_PROBLEM
    print(f"{args.file}: OK" + (f" ({len(problems)} warning(s))" if problems else ""))
    return EXIT_OK


def _cmd_hash_password(args: argparse.Namespace) -> int:
    from smsswitch.passwords import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return EXIT_PROBLEM
    if not password:
        print("empty password refused", file=sys.stderr)
        return EXIT_PROBLEM
    if len(password) > 8:
        print("warning: SMPP 3.4 passwords are at most 8 characters; tenants cannot send longer ones", file=sys.stderr)
    print(hash_password(password))
    return EXIT_OK


def _cmd_send(args: argparse.Namespace) -> int:
    from smsswitch.send import send_command

    return send_command(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from smsswitch.status import status_command

    return status_command(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from smsswitch.demo import demo_command

    return demo_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsswitch",
        description="SMPP 3.4 message switch: tenants bind to it, it routes to carriers, "
        "correlates receipts and delivers MO.",
        epilog=__doc__.split("\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the daemon in the foreground (what systemd starts)")
    run.add_argument("--config", "-c", required=True, help="daemon YAML (e.g. config/smsswitch.yaml)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override logging.level")
    run.add_argument("--log-format", choices=["json", "console"], help="override logging.format")
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check-config", help="validate the daemon YAML and its route table; exit 1 on any error")
    check.add_argument("file", help="daemon YAML")
    check.set_defaults(func=_cmd_check_config)

    hp = sub.add_parser("hash-password", help="print a salted hash for a tenant's password_hash")
    hp.add_argument("--stdin", action="store_true", help="read the password from standard input (no prompt)")
    hp.set_defaults(func=_cmd_hash_password)

    send = sub.add_parser("send", help="bind as a tenant, submit one message, wait for and print its receipt")
    send.add_argument("--config", "-c", help="take host/port from this daemon YAML's first listener")
    send.add_argument("--host", default=None, help="SMPP host (default 127.0.0.1)")
    send.add_argument("--port", type=int, default=None, help="SMPP port (default 2775)")
    send.add_argument("--system-id", required=True)
    send.add_argument("--password", required=True)
    send.add_argument("--to", required=True, help="destination, e.g. +263771234567")
    send.add_argument("--from", dest="source", default="SMSSWITCH", help="sender id or number")
    send.add_argument("--text", required=True)
    send.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the receipt (0: do not wait)")
    send.set_defaults(func=_cmd_send)

    status = sub.add_parser("status", help="live view of binds, connectors, queues and rates from /metrics")
    status.add_argument("--url", default="http://127.0.0.1:9775", help="the daemon's http address")
    status.add_argument("--config", "-c", help="take the http address from this daemon YAML")
    status.add_argument("--interval", type=float, default=2.0, help="refresh every N seconds")
    status.add_argument("--once", action="store_true", help="print once and exit")
    status.set_defaults(func=_cmd_status)

    demo = sub.add_parser("demo", help="start the switch with the bundled simulator, send a message, show its receipt")
    demo.add_argument("--config", "-c", default="config/smsswitch.yaml")
    demo.add_argument("--once", action="store_true", help="stop after the demo message instead of running until Ctrl-C")
    demo.set_defaults(func=_cmd_demo)

    _add_optional(sub, "routes", "smsswitch.routing.cli", "add_routes_subcommands")
    _add_policy(sub)
    _add_journal(sub)
    _add_http_commands(sub)
    _add_simulator(sub)
    return parser


def _add_optional(sub: argparse._SubParsersAction, name: str, module: str, function: str) -> None:
    """Subcommand groups owned by their layers (routing, journal) register themselves."""
    import importlib

    getattr(importlib.import_module(module), function)(sub)


def _add_policy(sub: argparse._SubParsersAction) -> None:
    """`policy check`, with --config read by the daemon's own loader (validated, paths
    resolved as `smsswitch run` resolves them)."""
    from smsswitch.policy import cli as policy_cli

    policy_cli.add_policy_subcommands(sub, _daemon_policy_facts)


def _daemon_policy_facts(path: str) -> tuple[object, str | None]:
    """What `policy check` needs of a daemon config: tenant names and regions, policy file."""
    from smsswitch.config_load import load_config
    from smsswitch.routing.cli import DaemonNames

    config = load_config(path)  # ConfigErrors: printed by `policy check` with file:line, exit 1
    names = DaemonNames(
        tenants=frozenset(t.name for t in config.tenants),
        connectors=frozenset(c.name for c in config.connectors),
        routes_file=config.routes_file,
        regions={t.name: t.default_region for t in config.tenants if t.default_region},
    )
    return names, config.policy_file


def _on_journal(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace, str], int]) -> None:
    """Give a command group --config FILE | --path DIR and run it on that journal."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", "-c", help="use the journal of this daemon YAML")
    where.add_argument("--path", help="journal directory")

    def resolve_and_run(args: argparse.Namespace) -> int:
        path = args.path
        if path is None:
            from smsswitch.config_load import load_config
            from smsswitch.yamlconf import ConfigErrors

            try:
                path = load_config(args.config).journal.path
            except ConfigErrors as exc:
                print(exc, file=sys.stderr)
                return EXIT_PROBLEM
        return run(args, path)

    parser.set_defaults(func=resolve_and_run)


def _add_journal(sub: argparse._SubParsersAction) -> None:
    from smsswitch.journal import cli as journal_cli

    _on_journal(journal_cli.add_journal_subcommands(sub), journal_cli.run)


def _add_http_commands(sub: argparse._SubParsersAction) -> None:
    from smsswitch.http import cli as http_cli

    _on_journal(http_cli.add_audit_subcommands(sub), http_cli.run)
    http_cli.add_apikey_subcommands(sub)


def _add_simulator(sub: argparse._SubParsersAction) -> None:
    from smsswitch.carrier import simulator

    parser = sub.add_parser("simulate-carrier", help="run the carrier simulator (an SMSC for tests and demos)")
    simulator.add_simulator_arguments(parser)
    parser.set_defaults(func=lambda args: simulator.run_simulator_from_args(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
