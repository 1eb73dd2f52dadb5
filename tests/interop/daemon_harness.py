"""Run the real smsswitch daemon (`smsswitch run`) as a subprocess with a temp config whose
one carrier connector points at a peer SMSC (node-smpp), so tests see both ends.

The config mirrors config/smsswitch.yaml's structure with free ports, fast timers and one
tenant per peer, each with its own MO number so MO routing is unambiguous.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import attrs
import trio

from smsswitch.harness import free_port
from smsswitch.passwords import hash_password
from tests.interop.http_peer import http_get
from tests.interop.peers import REPO, JsonLinesProcess, ProcessGroup

#: tenant name -> (password, its MO number); system_id is the tenant name.
TENANTS: dict[str, tuple[str, str]] = {
    "node": ("nodepass", "34567"),
    "kannel": ("kannelpw", "34568"),
    "perl": ("perlpass", "34569"),
    "smpplib": ("smpplibp", "34570"),
}
CARRIER_SYSTEM_ID = "carrier"
CARRIER_PASSWORD = "secret"

_HASHES: dict[str, str] = {}


def _password_hash(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


def render_config(workdir: Path, *, smpp_port: int, http_port: int, carrier_port: int) -> Path:
    """Write smsswitch.yaml and routes.yaml into `workdir`; returns the daemon config path."""
    tenants = "\n".join(
        f"""  {name}:
    system_id: {name}
    password_hash: "{_password_hash(password)}"
    bind_types: [transmitter, receiver, transceiver]
    max_binds: 4
    window: 20
    default_region: ZW
    deliver_via: [smpp]
    outbox_ttl: 600
    deliver_timeout: 2"""
        for name, (password, _) in TENANTS.items()
    )
    (workdir / "smsswitch.yaml").write_text(f"""\
node_id: 7
routes: routes.yaml
drain_grace: 1
server:
  listeners:
    - {{host: 127.0.0.1, port: {smpp_port}}}
  idle_timeout: 60
  enquire_link_interval: 30
  response_timeout: 5
  bind_timeout: 10
  failed_bind_delay: 0
  failed_binds_per_ip_per_minute: 1000
tenants:
{tenants}
connectors:
  carrier:
    host: 127.0.0.1
    port: {carrier_port}
    system_id: {CARRIER_SYSTEM_ID}
    password: {CARRIER_PASSWORD}
    bind_mode: transceiver
    sessions: 1
    window: 20
    enquire_link_interval: 30
    response_timeout: 5
    reconnect_initial: 0.2
    reconnect_max: 1
    max_attempts: 3
simulator:
  enabled: false
journal:
  path: journal
  commit_linger: 0.001
http:
  host: 127.0.0.1
  port: {http_port}
logging:
  level: info
  format: json
  unmask: true
""")
    mo_rules = "\n".join(
        f"""  - name: {name}-number
    match: {{to: ["{number}"]}}
    deliver: {{tenant: {name}, via: [smpp]}}"""
        for name, (_, number) in TENANTS.items()
    )
    (workdir / "routes.yaml").write_text(f"""\
version: 1
tenant_groups:
  everyone: [{", ".join(TENANTS)}]
mt:
  - name: everything
    match: {{tenant_groups: [everyone]}}
    connectors: [carrier]
mo:
{mo_rules}
""")
    return workdir / "smsswitch.yaml"


@attrs.define
class Daemon:
    process: JsonLinesProcess
    smpp_port: int
    http_port: int
    config: Path

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until /readyz answers 200 (journal replayed, listeners up)."""
        body = ""
        with trio.move_on_after(timeout):
            while True:
                if self.process.exited.is_set():
                    raise AssertionError(f"smsswitch exited ({self.process.returncode})\n"
                                         f"{self.process.describe()}")
                try:
                    status, body = await http_get(self.http_port, "/readyz", timeout=2)
                    if status == 200:
                        return
                except OSError:
                    pass
                await trio.sleep(0.1)
        raise AssertionError(f"smsswitch not ready within {timeout}s ({body})\n{self.process.describe()}")

    def logged(self, event: str) -> list[dict]:
        """The daemon's structlog JSON events named `event`."""
        return self.process.find(event)


def daemon_argv(config: Path) -> list[str]:
    script = Path(sys.executable).with_name("smsswitch")
    if script.exists():
        return [str(script), "run", "--config", str(config)]
    return [sys.executable, "-c", "import sys; from smsswitch.cli import main; sys.exit(main())",
            "run", "--config", str(config)]


async def start_daemon(processes: ProcessGroup, workdir: Path, carrier_port: int) -> Daemon:
    smpp_port, http_port = free_port(), free_port()
    config = render_config(workdir, smpp_port=smpp_port, http_port=http_port, carrier_port=carrier_port)
    process = await processes.start(
        JsonLinesProcess("smsswitch", daemon_argv(config), cwd=REPO, exits_on_eof=False))
    daemon = Daemon(process, smpp_port, http_port, config)
    await daemon.wait_ready()
    return daemon


def dump(obj: object) -> str:
    return json.dumps(obj, indent=1, default=str)
