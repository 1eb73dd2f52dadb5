"""`smsswitch policy check`: what the policy says about one message, and why.

The top-level CLI mounts it with `add_policy_subcommands(subparsers, read_config)` and runs
`args.func(args)`, which returns the exit code; `read_config(path)` gives the daemon
config's tenant names, regions and policy file (smsswitch.cli passes the daemon's own
loader; without one, a light reading of the YAML stands in).
`python -m smsswitch.policy.cli check ...` works on its own (a leading "policy" is optional).

    policy check --tenant T --from SENDER --to NUMBER --text "..."
                 [--config DAEMON_YAML | --policy FILE] [--data-coding N] [--opted-out]
                 [--region ZW] [--json]
        exit 0: allowed (ok or rewrite); 1: rejected, or the policy file has errors.

The text is encoded as a tenant would send it (GSM 03.38 when it fits, else UCS2, or the
given --data-coding) and decoded back, so the check sees what the switch would see.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from smsswitch.numbers import NumberInfo, parse_number
from smsswitch.policy.consent import InMemorySuppression, subscriber_key
from smsswitch.policy.loader import load_policy
from smsswitch.policy.message import mt_text
from smsswitch.policy.verdict import REJECT, Verdict
from smsswitch.routing.cli import DaemonNames, format_problem, read_daemon_names
from smsswitch.smpp.text import choose_encoding, encode_text
from smsswitch.yamlconf import ConfigError, ConfigErrors, load_yaml

__all__ = ["add_policy_subcommands", "main"]

DEFAULT_POLICY = "config/policy.yaml"
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


@attrs.define
class _Message:
    """The fields check_mt reads (an MtMessage), built from the command line."""

    source: NumberInfo
    destination: NumberInfo
    data_coding: int
    payload: bytes
    esm_class: int = 0
    part: tuple[int, int, int] | None = None


def policy_file_of(config: str) -> str | None:
    """The daemon config's `policy:` file, relative to the config's directory."""
    doc = load_yaml(config)
    value = doc.get("policy") if isinstance(doc, dict) else None
    if not isinstance(value, str):
        return None
    return value if Path(value).is_absolute() else str(Path(config).parent / value)


#: Daemon config path -> (its tenant names and regions, its policy file or None).
ConfigReader = Callable[[str], "tuple[DaemonNames, str | None]"]


def read_yaml_names(config: str) -> tuple[DaemonNames, str | None]:
    """The stand-in ConfigReader: names and `policy:` read from the YAML, unvalidated."""
    return read_daemon_names(config), policy_file_of(config)


def run_check(args: argparse.Namespace, read_config: ConfigReader = read_yaml_names) -> int:
    try:
        names, configured = read_config(args.config) if args.config else (None, None)
        path = args.policy or configured or DEFAULT_POLICY
        if args.config and not args.policy and path == DEFAULT_POLICY:
            print(f"note: {args.config} names no `policy:` file; using {DEFAULT_POLICY}", file=sys.stderr)
        policy = load_policy(path, names.tenants if names else None)
    except ConfigErrors as exc:
        for problem in exc.errors:
            print(format_problem(problem), file=sys.stderr)
        return EXIT_PROBLEM
    region = args.region or (names.regions.get(args.tenant) if names else None)
    sender = args.sender.strip()
    source = parse_number(sender, 0 if sender.lstrip("+").isdigit() else 5, 1, region)
    destination = parse_number(args.to, 0, 1, region)
    data_coding = args.data_coding if args.data_coding is not None else choose_encoding(args.text)
    try:
        payload = encode_text(args.text, data_coding)
    except (ValueError, UnicodeEncodeError) as exc:
        print(f"cannot encode the text with data_coding {data_coding}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    message = _Message(source, destination, data_coding, payload)
    suppressed = InMemorySuppression([(args.tenant, subscriber_key(destination))] if args.opted_out else [])
    verdict = policy.check_mt(args.tenant, message, None, suppressed)
    if args.json:
        print(json.dumps(_as_dict(verdict, policy.source, args, destination, mt_text(message)), indent=2))
    else:
        print(_render(verdict, policy.source, args, source, destination, data_coding))
    return EXIT_PROBLEM if verdict.outcome == REJECT else EXIT_OK


def _render(verdict: Verdict, source_file: str, args: argparse.Namespace, source: NumberInfo,
            destination: NumberInfo, data_coding: int) -> str:  # fmt: skip
    dest = destination.e164 or destination.raw
    facts = ", ".join(str(x) for x in (destination.region, destination.number_type, "valid" if destination.is_valid else "not valid") if x)
    lines = [
        f"policy {source_file}, tenant {args.tenant}",
        f"  from     {source.raw!r} ({source.kind})",
        f"  to       {dest} ({facts})",
        f"  text     {len(args.text)} characters, data_coding {data_coding}",
        f"verdict: {verdict.describe()}",
    ]
    return "\n".join(lines)


def _as_dict(verdict: Verdict, source_file: str, args: argparse.Namespace, destination: NumberInfo,
             text: str | None) -> dict[str, object]:  # fmt: skip
    return {
        "policy": source_file,
        "tenant": args.tenant,
        "to": destination.e164 or destination.raw,
        "outcome": verdict.outcome,
        "status": verdict.status.name,
        "status_code": int(verdict.status),
        "check": verdict.check,
        "reason": verdict.reason,
        "template": verdict.template,
        "rewrite_to": verdict.rewrite.source.raw if verdict.rewrite else None,
        "text_seen": text,
    }


def add_policy_subcommands(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    read_config: ConfigReader | None = None,
) -> argparse.ArgumentParser:
    """Add `policy check`; it sets `func(args) -> exit code`. `read_config` reads --config
    (default: the light YAML reading)."""
    policy = subparsers.add_parser("policy", help="check messages against the message policy")
    commands = policy.add_subparsers(dest="policy_command", required=True)
    check = commands.add_parser("check", help="the verdict for one MT and the reason (exit 0 allowed, 1 rejected)")
    check.add_argument("--config", help="daemon config YAML: its `policy:` file, tenant names and regions")
    check.add_argument("--policy", help=f"policy file (default: from --config, else {DEFAULT_POLICY})")
    check.add_argument("--tenant", required=True, help="the submitting tenant")
    check.add_argument("--from", dest="sender", required=True, help="source address or sender id")
    check.add_argument("--to", required=True, help="destination number")
    check.add_argument("--text", required=True, help="message text")
    check.add_argument("--data-coding", type=int, help="0 (GSM 03.38), 8 (UCS2), ... (default: the cheapest that fits)")
    check.add_argument("--opted-out", action="store_true", help="pretend the recipient sent STOP to this tenant")
    check.add_argument("--region", help="region for national-format numbers (default: the tenant's)")
    check.add_argument("--json", action="store_true", help="structured output")
    check.set_defaults(func=functools.partial(run_check, read_config=read_config or read_yaml_names))
    return policy


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] != "policy":
        args_list.insert(0, "policy")
    parser = argparse.ArgumentParser(prog="smsswitch")
    add_policy_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(args_list)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
