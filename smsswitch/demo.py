"""`smsswitch demo`: the first thing a newcomer runs (via scripts/demo).

Starts the daemon on the example config (which embeds the carrier simulator, so nothing else is
needed), waits until it is ready, sends one message as the `demo` tenant, prints the message id
and its delivery receipt, says where to look next, and keeps the switch running until Ctrl-C
(or stops at once with --once).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import trio

from smsswitch.config_load import load_config
from smsswitch.send import send_and_wait
from smsswitch.yamlconf import ConfigErrors

DEMO_TENANT = ("demo", "demopass")


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def demo_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigErrors as exc:
        print(exc, file=sys.stderr)
        return 1
    listener = config.server.listeners[0]
    http = f"http://{config.http.host}:{config.http.port}"
    print(f"starting smsswitch on {args.config} (SMPP {listener.host}:{listener.port}, http {http})")
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "-m", "smsswitch.cli", "run", "--config", args.config, "--log-format", "console"],
        env=env,
    )
    try:
        if not _wait_ready(f"{http}/readyz", process, timeout=60):
            print("the switch did not become ready (see its log above)", file=sys.stderr)
            return 1
        send_args = SimpleNamespace(
            host=listener.host,
            port=listener.port,
            config=None,
            system_id=DEMO_TENANT[0],
            password=DEMO_TENANT[1],
            to="+263771234567",
            source="SMSSWITCH",
            text="Hello from smsswitch! Reply 60682 to join.",
            wait=30.0,
        )
        print("\nsending a message as tenant 'demo' to +263771234567 through the carrier simulator:")
        code = trio.run(send_and_wait, send_args)
        print(
            "\nwhere to look next:\n"
            f"  {http}/metrics                         Prometheus metrics\n"
            f"  smsswitch status --url {http}    live view of binds, connectors, queues\n"
            f"  smsswitch journal --config {args.config} stats      what the journal holds\n"
            f"  smsswitch routes explain --config {args.config} --tenant demo --to +263771234567\n"
            f"  smsswitch send --config {args.config} --system-id demo --password demopass --to +447400123456 --text hi\n"
        )
        if code != 0 or args.once:
            return code
        print("the switch keeps running; press Ctrl-C to stop it")
        process.wait()
        return process.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
