"""Run a real smsswitch daemon as a subprocess on free loopback ports.

Tests, benchmarks and the soak script need the same thing: a config with free ports, the daemon
started as a separate process (so kill -9 is real), READY=1 heard on our own NOTIFY_SOCKET,
and a clean stop. This module is that, once.
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "smsswitch.yaml"
EXAMPLE_ROUTES = ROOT / "config" / "routes.yaml"
EXAMPLE_POLICY = ROOT / "config" / "policy.yaml"


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, whichever of its threads forked them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):  # a child belongs to the thread that forked it
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass  # the thread ended meanwhile
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a process that binds it a moment later.

    Drawn at random below the kernel's ephemeral range: a port the OS hands out for bind(0)
    comes from that range, where another bind(0) or an outgoing connection can take it before
    our process binds it (a Kannel box in a CI run failed so: "Address already in use")."""
    low = _ephemeral_low()
    draw = random.SystemRandom().randrange  # not the tests' seeded `random`
    for _ in range(100):
        port = draw(max(1024, low - 10_000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: draw again
        return port
    with socket.socket() as sock:  # all taken (hardly): let the OS choose after all
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(
    directory: Path, overrides: dict[str, Any] | None = None, routes: str | None = None, policy: str | None = None
) -> Path:
    """The example config with free ports, the journal in `directory`, and `overrides` merged
    in (nested dicts merge; other values replace). routes.yaml and policy.yaml are written
    next to it (the examples, or the given texts). Returns the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    smpp, sim, http = free_port(), free_port(), free_port()
    base["server"]["listeners"] = [{"host": "127.0.0.1", "port": smpp}]
    base["simulator"]["port"] = sim
    base["simulator"]["receipt_delay"] = 0.05
    base["simulator"]["final_states"] = {"DELIVRD": 1.0}
    base["connectors"]["sim"]["port"] = sim
    base["connectors"]["sim"]["reconnect_initial"] = 0.2
    base["connectors"]["sim"]["reconnect_max"] = 2
    base["http"]["port"] = http
    base["journal"]["path"] = str(directory / "journal")
    base["routes"] = "routes.yaml"
    base["policy"] = "policy.yaml"
    base["drain_grace"] = 5
    base["logging"] = {"level": "info", "format": "json", "unmask": False}
    config = _merge(base, overrides or {})
    (directory / "routes.yaml").write_text(routes if routes is not None else EXAMPLE_ROUTES.read_text())
    (directory / "policy.yaml").write_text(policy if policy is not None else EXAMPLE_POLICY.read_text())
    path = directory / "smsswitch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class DaemonProcess:
    """`smsswitch run` as a child process, with its own NOTIFY_SOCKET."""

    def __init__(self, config_path: Path, log_path: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.config_path = Path(config_path)
        self.config = yaml.safe_load(self.config_path.read_text())
        self.log_path = log_path or self.config_path.parent / "daemon.log"
        self._notify_dir = tempfile.mkdtemp(prefix="smsswitch-notify-")
        self.notify_path = os.path.join(self._notify_dir, "notify.sock")
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(self.notify_path)
        self.notifications: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._env = env or {}

    @property
    def smpp_port(self) -> int:
        return int(self.config["server"]["listeners"][0]["port"])

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.config['http']['port']}"

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, PYTHONUNBUFFERED="1", **self._env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smsswitch.cli", "run", "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        log.close()
        self.wait_notification("READY=1", timeout)

    def wait_notification(self, needle: str, timeout: float = 30.0) -> str:
        """Wait for a datagram containing `needle` (datagrams already seen count too)."""
        for seen in self.notifications:
            if needle in seen:
                self.notifications.remove(seen)
                return seen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._notify.settimeout(min(0.5, max(0.01, deadline - time.monotonic())))
            try:
                message = self._notify.recv(4096).decode()
            except TimeoutError:
                # Only once nothing is left to read does an exited daemon mean "never".
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.log_tail()}") from None
                continue
            if needle in message:
                return message
            self.notifications.append(message)
        raise TimeoutError(f"no {needle!r} from the daemon within {timeout}s:\n{self.log_tail()}")

    def writer_pids(self) -> list[int]:
        """The daemon's child processes: its journal writer (one, while it runs)."""
        assert self.process is not None
        return child_pids(self.process.pid)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code (kills after `timeout`)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise

    def metrics(self) -> str:
        with urllib.request.urlopen(self.http_url + "/metrics", timeout=5) as response:
            return response.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            self._notify.close()
            shutil.rmtree(self._notify_dir, ignore_errors=True)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
