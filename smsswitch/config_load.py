"""Load the daemon YAML into `smsswitch.config.DaemonConfig`, reporting every error with file:line.

Relative paths in the file (routes, policy, journal, TLS files, secret files) are relative to the config
file's own directory, so a config works the same from any working directory.

Secrets need not sit in the YAML: wherever a secret is expected (`password`, `secret`), the value
may be `{env: VARIABLE}` or `{file: path}` instead of a string. Tenant passwords are stored only
as hashes (`password_hash`, made by `smsswitch hash-password`); a clear `password:` under a
tenant is refused with that hint.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

from smsswitch import config as c
from smsswitch.passwords import is_password_hash
from smsswitch.yamlconf import (
    ConfigError,
    ConfigErrors,
    Field,
    Invalid,
    ListOf,
    MapOf,
    Mark,
    Schema,
    load_yaml,
)


def _positive(value: float) -> float:
    if value <= 0:
        raise Invalid(f"must be greater than 0, got {value}")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise Invalid(f"must not be negative, got {value}")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise Invalid(f"port must be 0..65535, got {value}")
    return value


def _one_of(*choices: str) -> Any:
    def check(value: str) -> str:
        if value not in choices:
            raise Invalid(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def _command_status(value: Any) -> int:
    """A command_status by name (ESME_RINVDSTADR) or number (11, 0x0B as text or YAML int)."""
    from smsswitch.smpp.constants import CommandStatus

    if isinstance(value, str):
        name = value.strip()
        if name.upper() in CommandStatus.__members__:
            return int(CommandStatus[name.upper()])
        try:
            value = int(name, 0)
        except ValueError:
            raise Invalid(f"{value!r} is neither a command_status name (e.g. ESME_RINVDSTADR) nor a number") from None
    if not 0 < value <= 0xFFFFFFFF:
        raise Invalid(f"a refusal's command_status is 1..0xFFFFFFFF, got {value}")
    return int(value)


def _network(value: str) -> Any:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise Invalid(f"not an IP network: {value!r}", hint="write e.g. 10.0.0.0/8 or 192.0.2.7") from exc


def _secret(value: Any) -> str:
    """A string, or {env: NAME} / {file: path} (file relative to the config file)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, ref),) = value.items()
        if kind == "env":
            if str(ref) not in os.environ:
                raise Invalid(f"environment variable {ref!r} is not set")
            return os.environ[str(ref)]
        if kind == "file":
            path = _resolve_path(str(ref))
            try:
                return Path(path).read_text().strip()
            except OSError as exc:
                raise Invalid(f"cannot read secret file {path}: {exc.strerror}") from exc
    raise Invalid("expected a string, {env: VARIABLE} or {file: path}")


# Set while a file loads, so path checks can resolve relative to its directory.
_base_dir: Path = Path(".")


def _resolve_path(value: str) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (_base_dir / path).resolve())


def _readable_file(value: str) -> str:
    path = _resolve_path(value)
    if not os.path.isfile(path):
        raise Invalid(f"file not found: {path}")
    return path


def _password_hash(value: str) -> str:
    if not is_password_hash(value):
        raise Invalid(
            "password_hash is not a hash made by smsswitch",
            hint="run `smsswitch hash-password` and paste its output here",
        )
    return value


def _refuse_clear_password(value: Any) -> Any:
    raise Invalid(
        "tenant passwords are stored only as hashes",
        hint="use password_hash: <output of `smsswitch hash-password`>",
    )


TLS_SERVER = Schema(
    {
        "cert_file": Field(str, required=True, check=_readable_file),
        "key_file": Field(str, required=True, check=_readable_file),
        "client_ca_file": Field(str, check=_readable_file),
    },
    name="tls",
)
TLS_CLIENT = Schema(
    {
        "ca_file": Field(str, check=_readable_file),
        "cert_file": Field(str, check=_readable_file),
        "key_file": Field(str, check=_readable_file),
        "verify": Field(bool, default=True),
        "server_hostname": Field(str),
    },
    name="tls",
)
LISTENER = Schema(
    {
        "host": Field(str, default="127.0.0.1"),
        "port": Field(int, required=True, check=_port),
        "tls": Field(TLS_SERVER),
    },
    name="listener",
)
SERVER = Schema(
    {
        "listeners": Field(ListOf(LISTENER, min_items=1), default=[{"host": "127.0.0.1", "port": 2775}]),
        "max_connections": Field(int, default=10_000, check=_positive),
        "max_connections_per_ip": Field(int, default=200, check=_positive),
        "max_command_length": Field(int, default=65_536, check=_positive),
        "idle_timeout": Field(float, default=120.0, check=_positive),
        "enquire_link_interval": Field(float, default=30.0, check=_positive),
        "response_timeout": Field(float, default=10.0, check=_positive),
        "bind_timeout": Field(float, default=10.0, check=_positive),
        "failed_bind_delay": Field(float, default=1.0, check=_non_negative),
        "failed_binds_per_ip_per_minute": Field(int, default=10, check=_positive),
    },
    name="server",
)
WEBHOOK = Schema(
    {
        "url": Field(str, required=True),
        "secret": Field((str, dict), check=_secret),
        "timeout": Field(float, default=5.0, check=_positive),
        "max_attempts": Field(int, default=8, check=_positive),
        "events": Field(ListOf(str, check=_one_of("mo", "receipt", "state")), default=["mo", "receipt"]),
    },
    name="webhook",
)
API_KEY = Schema(
    {
        "id": Field(str, required=True),
        "key_hash": Field((str, dict), required=True, check=lambda v: _password_hash(_secret(v))),
        "scopes": Field(ListOf(str, check=_one_of("send", "read", "admin", "operator")), default=["send", "read"]),
        "allowed_networks": Field(ListOf(str, check=_network), default=[]),
    },
    name="api key",
)
TENANT = Schema(
    {
        "system_id": Field(str),
        "password_hash": Field((str, dict), required=True, check=lambda v: _password_hash(_secret(v))),
        "password": Field(None, check=_refuse_clear_password),
        "bind_types": Field(
            ListOf(str, check=_one_of("transmitter", "receiver", "transceiver")),
            default=["transmitter", "receiver", "transceiver"],
        ),
        "allowed_networks": Field(ListOf(str, check=_network), default=[]),
        "max_binds": Field(int, default=10, check=_positive),
        "window": Field(int, default=100, check=_positive),
        "bind_tps": Field(float, default=0.0, check=_non_negative),
        "tenant_tps": Field(float, default=0.0, check=_non_negative),
        "default_region": Field(str),
        "allowed_senders": Field(ListOf(str), default=[]),
        "default_sender": Field(str),
        "deliver_via": Field(ListOf(str, check=_one_of("smpp", "webhook")), default=["smpp"]),
        "webhook": Field(WEBHOOK),
        "outbox_ttl": Field(float, default=72 * 3600.0, check=_positive),
        "deliver_timeout": Field(float, default=30.0, check=_positive),
        "api_keys": Field(ListOf(API_KEY), default=[]),
    },
    name="tenant",
)
QUIRKS = Schema(
    {
        "receipt_id_format": Field(str, default="auto", check=_one_of("auto", "hex", "decimal")),
        "receipts_in": Field(str, default="both", check=_one_of("text", "tlv", "both")),
        "max_segments": Field(int, default=10, check=_positive),
        "dc0_charset": Field(str, default="gsm", check=_one_of("gsm", "latin1", "ascii")),
    },
    name="quirks",
)
CONNECTOR = Schema(
    {
        "host": Field(str, required=True),
        "port": Field(int, required=True, check=_port),
        "system_id": Field(str, required=True),
        "password": Field((str, dict), default="", check=_secret),
        "system_type": Field(str, default=""),
        "tls": Field(TLS_CLIENT),
        "bind_mode": Field(str, default="transceiver", check=_one_of("transceiver", "pair")),
        "sessions": Field(int, default=1, check=_positive),
        "window": Field(int, default=10, check=_positive),
        "max_tps": Field(float, default=0.0, check=_non_negative),
        "enquire_link_interval": Field(float, default=30.0, check=_positive),
        "response_timeout": Field(float, default=10.0, check=_positive),
        "reconnect_initial": Field(float, default=1.0, check=_positive),
        "reconnect_max": Field(float, default=60.0, check=_positive),
        "source_addr": Field(str),
        "source_ton": Field(int, default=1),
        "source_npi": Field(int, default=1),
        "data_coding": Field(int),
        "max_attempts": Field(int, default=5, check=_positive),
        "failover_after": Field(float, default=10.0, check=_non_negative),
        "failover_on": Field(ListOf((str, int), check=_command_status), default=[]),
        "quirks": Field(QUIRKS, default={}),
    },
    name="connector",
)
JOURNAL = Schema(
    {
        "path": Field(str, default="var/journal", check=_resolve_path),
        "map_size": Field(int, default=1 << 30, check=_positive),
        "max_map_size": Field(int, default=64 << 30, check=_positive),
        "commit_linger": Field(float, default=0.001, check=_non_negative),
        "commit_max_batch": Field(int, default=2000, check=_positive),
        "retention": Field(float, default=7 * 86400.0, check=_positive),
        "unmatched_receipt_ttl": Field(float, default=600.0, check=_positive),
    },
    name="journal",
)
LOGGING = Schema(
    {
        "level": Field(str, default="info", check=_one_of("debug", "info", "warning", "error")),
        "format": Field(str, default="auto", check=_one_of("json", "console", "auto")),
        "unmask": Field(bool, default=False),
        "file": Field(str, check=_resolve_path),
    },
    name="logging",
)
HTTP = Schema(
    {
        "host": Field(str, default="127.0.0.1"),
        "port": Field(int, default=9775, check=_port),
        "tls": Field(TLS_SERVER),
        "webhook_concurrency": Field(int, default=4, check=_positive),
    },
    name="http",
)
SIMULATOR = Schema(
    {
        "enabled": Field(bool, default=False),
        "host": Field(str, default="127.0.0.1"),
        "port": Field(int, default=2776, check=_port),
        "system_id": Field(str, default="sim"),
        "password": Field((str, dict), default="simpass", check=_secret),
        "receipt_delay": Field(float, default=0.5, check=_non_negative),
        "id_format": Field(str, default="hex", check=_one_of("hex", "decimal")),
        "final_states": Field(MapOf(float), default={"DELIVRD": 1.0}),
    },
    name="simulator",
)


def _cpu(value: int) -> int:
    online = online_cpus()
    if value not in online:
        raise Invalid(f"CPU {value} is not online on this machine (online: {', '.join(map(str, sorted(online)))})")
    return value


def online_cpus() -> set[int]:
    """The CPUs the kernel has online (any of them may be given to a process, unlike the
    calling process's own affinity, which a parent may have narrowed)."""
    try:
        text = Path("/sys/devices/system/cpu/online").read_text().strip()
    except OSError:
        return set(range(os.cpu_count() or 1))
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


CPUS = Schema(
    {
        "main": Field(ListOf(int, check=_cpu), default=[], doc="CPUs of the main process (SMPP, routing, HTTP)"),
        "journal_writer": Field(ListOf(int, check=_cpu), default=[], doc="CPUs of the journal writer process"),
    },
    name="cpus",
)
DAEMON = Schema(
    {
        "node_id": Field(int, default=0),
        "routes": Field(str, required=True, check=_readable_file, doc="route table file"),
        "policy": Field(str, check=_readable_file, doc="message policy file (optional)"),
        "server": Field(SERVER, default={}),
        "tenants": Field(MapOf(TENANT), default={}),
        "connectors": Field(MapOf(CONNECTOR), default={}),
        "journal": Field(JOURNAL, default={}),
        "logging": Field(LOGGING, default={}),
        "http": Field(HTTP, default={}),
        "simulator": Field(SIMULATOR, default={}),
        "cpus": Field(CPUS, default={}),
        "drain_grace": Field(float, default=10.0, check=_non_negative),
    },
    name="config",
)


def load_config(path: str | os.PathLike[str]) -> c.DaemonConfig:
    """Read and validate the daemon YAML; raises `ConfigErrors` listing every problem."""
    global _base_dir
    path = str(path)
    doc = load_yaml(path)  # raises ConfigErrors for syntax
    errors: list[ConfigError] = []
    previous, _base_dir = _base_dir, Path(path).resolve().parent
    try:
        raw = DAEMON.validate(doc, errors, at=Mark(path, 1, 1))
        for section in ("server", "journal", "logging", "http", "simulator", "cpus"):
            # An absent section gets its schema's defaults filled in the same way.
            if raw is not None and not hasattr(raw.get(section), "key_mark"):
                raw[section] = DAEMON.fields[section].kind.validate(raw[section] or {}, errors, at=Mark(path, 1, 1))
        if errors or raw is None:
            raise ConfigErrors(errors or [Mark(path, 1, 1).error("configuration is empty")])
        # Defaults are not run through checks: resolve the default journal path here.
        raw["journal"]["path"] = _resolve_path(raw["journal"]["path"])
        return _build(path, raw, errors)
    finally:
        _base_dir = previous


def _build(path: str, raw: dict[str, Any], errors: list[ConfigError]) -> c.DaemonConfig:
    tenants = []
    seen_system_ids: dict[str, str] = {}
    for name, t in raw["tenants"].items():
        system_id = t["system_id"] or name
        if system_id in seen_system_ids:
            errors.append(
                raw["tenants"].value_mark(name).error(
                    f"tenant {name!r} uses system_id {system_id!r} already used by {seen_system_ids[system_id]!r}"
                )
            )
        seen_system_ids[system_id] = name
        if "webhook" in t["deliver_via"] and not t["webhook"]:
            errors.append(raw["tenants"].value_mark(name).error(f"tenant {name!r} delivers via webhook but has no webhook:"))
        tenants.append(
            c.TenantConfig(
                name=name,
                system_id=system_id,
                password_hash=t["password_hash"],
                bind_types=frozenset(t["bind_types"]),
                allowed_networks=tuple(t["allowed_networks"]),
                max_binds=t["max_binds"],
                window=t["window"],
                bind_tps=t["bind_tps"],
                tenant_tps=t["tenant_tps"],
                default_region=t["default_region"],
                allowed_senders=tuple(t["allowed_senders"]),
                default_sender=t["default_sender"],
                deliver_via=tuple(t["deliver_via"]),
                webhook=c.WebhookConfig(
                    url=t["webhook"]["url"],
                    secret=t["webhook"]["secret"],
                    timeout=t["webhook"]["timeout"],
                    max_attempts=t["webhook"]["max_attempts"],
                    events=tuple(t["webhook"]["events"]),
                )
                if t["webhook"]
                else None,
                outbox_ttl=t["outbox_ttl"],
                deliver_timeout=t["deliver_timeout"],
                api_keys=tuple(
                    c.ApiKeyConfig(
                        id=k["id"],
                        key_hash=k["key_hash"],
                        scopes=frozenset(k["scopes"]),
                        allowed_networks=tuple(k["allowed_networks"]),
                    )
                    for k in t["api_keys"]
                ),
            )
        )
    key_ids: dict[str, str] = {}
    for tenant in tenants:
        for key in tenant.api_keys:
            if key.id in key_ids:
                errors.append(
                    raw["tenants"].value_mark(tenant.name).error(
                        f"API key id {key.id!r} of tenant {tenant.name!r} is already used by tenant {key_ids[key.id]!r}"
                    )
                )
            key_ids[key.id] = tenant.name
    connectors = []
    for name, k in raw["connectors"].items():
        tls = k["tls"]
        connectors.append(
            c.ConnectorConfig(
                name=name,
                host=k["host"],
                port=k["port"],
                system_id=k["system_id"],
                password=k["password"],
                system_type=k["system_type"],
                tls=c.TlsClientConfig(**tls) if tls else None,
                bind_mode=k["bind_mode"],
                sessions=k["sessions"],
                window=k["window"],
                max_tps=k["max_tps"],
                enquire_link_interval=k["enquire_link_interval"],
                response_timeout=k["response_timeout"],
                reconnect_initial=k["reconnect_initial"],
                reconnect_max=k["reconnect_max"],
                source_addr=k["source_addr"],
                source_ton=k["source_ton"],
                source_npi=k["source_npi"],
                data_coding=k["data_coding"],
                max_attempts=k["max_attempts"],
                failover_after=k["failover_after"],
                failover_on=frozenset(k["failover_on"]),
                quirks=c.CarrierQuirks(**k["quirks"]),
            )
        )
    s = raw["server"]
    server = c.ServerConfig(
        listeners=tuple(
            c.ListenerConfig(host=l["host"], port=l["port"], tls=c.TlsServerConfig(**l["tls"]) if l.get("tls") else None)
            for l in s["listeners"]
        ),
        **{k: v for k, v in s.items() if k != "listeners"},
    )
    sim = raw["simulator"]
    simulator = c.SimulatorConfig(
        **{k: v for k, v in sim.items() if k != "final_states"},
        final_states=tuple((state, float(share)) for state, share in sim["final_states"].items()),
    )
    if errors:
        raise ConfigErrors(errors)
    return c.DaemonConfig(
        source=path,
        routes_file=raw["routes"],
        server=server,
        tenants=tuple(tenants),
        connectors=tuple(connectors),
        journal=c.JournalConfig(**raw["journal"]),
        logging=c.LoggingConfig(**raw["logging"]),
        http=c.HttpConfig(
            **{k: v for k, v in raw["http"].items() if k != "tls"},
            tls=c.TlsServerConfig(**raw["http"]["tls"]) if raw["http"].get("tls") else None,
        ),
        simulator=simulator,
        cpus=c.CpuConfig(main=tuple(raw["cpus"]["main"]), journal_writer=tuple(raw["cpus"]["journal_writer"])),
        drain_grace=raw["drain_grace"],
        node_id=raw["node_id"],
        policy_file=raw["policy"],
    )
