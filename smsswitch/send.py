"""`smsswitch send`: bind as a tenant, submit one message, wait for and print its receipt."""

from __future__ import annotations

import argparse
import sys

import trio

from smsswitch.client import SmppError, connect
from smsswitch.smpp.receipt import parse_receipt
from smsswitch.smpp.text import decode_text


def _endpoint(args: argparse.Namespace) -> tuple[str, int]:
    host, port = args.host, args.port
    if args.config and (host is None or port is None):
        from smsswitch.config_load import load_config

        listener = load_config(args.config).server.listeners[0]
        host = host or listener.host
        port = port or listener.port
    return host or "127.0.0.1", port or 2775


async def send_and_wait(args: argparse.Namespace, out=sys.stdout) -> int:
    """Returns the command's exit code (see smsswitch.cli)."""
    host, port = _endpoint(args)
    try:
        async with connect(host, port, args.system_id, args.password, bind_type="transceiver") as client:
            print(f"bound to {host}:{port} as {args.system_id}", file=out)
            ids = await client.submit(args.to, args.text, source=args.source, source_ton=5 if not args.source.lstrip("+").isdigit() else 1)
            print(f"accepted: message id{'s' if len(ids) > 1 else ''} {', '.join(ids)}", file=out)
            if args.wait <= 0:
                return 0
            pending = set(ids)
            deadline = trio.current_time() + args.wait
            while pending:
                delivered = await client.next_delivery(max(0.0, deadline - trio.current_time()))
                if delivered is None:
                    print(f"no receipt within {args.wait:g}s for {', '.join(sorted(pending))}", file=out)
                    return 3
                text = decode_text(delivered.pdu.short_message, delivered.pdu.data_coding)
                if not delivered.is_receipt:
                    print(f"MO from {delivered.pdu.source_addr}: {text}", file=out)
                    continue
                receipt = parse_receipt(text)
                receipted = delivered.receipted_message_id or (receipt.id if receipt else None)
                print(f"receipt: {text}", file=out)
                pending.discard(receipted)
            return 0
    except SmppError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot connect to {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 4


def send_command(args: argparse.Namespace) -> int:
    return trio.run(send_and_wait, args)
