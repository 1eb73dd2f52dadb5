"""The daemon's configuration as frozen values (what `smsswitch run --config FILE` runs on).

This module only defines the shape and defaults. `smsswitch.config_load` turns a YAML file into
these values with file:line errors; every layer receives the part it needs (a connector gets its
`ConnectorConfig`, the server its `ServerConfig` and the tenants), never the YAML.

Times are seconds (float), rates are messages per second (0 = unlimited).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

import attrs

BindType = Literal["transmitter", "receiver", "transceiver"]
DeliveryChannel = Literal["smpp", "webhook"]


@attrs.frozen
class TlsServerConfig:
    """Certificate and key a TLS listener presents; optional CA to require client certificates."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None


@attrs.frozen
class TlsClientConfig:
    """How a connector verifies the carrier (CA file) and optionally authenticates itself."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    server_hostname: str | None = None


@attrs.frozen
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    tls: TlsServerConfig | None = None


@attrs.frozen
class ServerConfig:
    """Tenant-facing SMPP listeners and the limits that protect them."""

    listeners: tuple[ListenerConfig, ...] = (ListenerConfig(),)
    max_connections: int = 10_000
    max_connections_per_ip: int = 200
    max_command_length: int = 65_536
    # A session that sends nothing (not even enquire_link) for this long is unbound and closed.
    idle_timeout: float = 120.0
    # How often we enquire_link a quiet tenant ourselves, and how long we wait for any response.
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    # Seconds a connection has to complete its bind (slowloris protection).
    bind_timeout: float = 10.0
    failed_bind_delay: float = 1.0
    failed_binds_per_ip_per_minute: int = 10


@attrs.frozen
class WebhookConfig:
    url: str
    secret: str | None = None
    timeout: float = 5.0
    max_attempts: int = 8
    events: tuple[str, ...] = ("mo", "receipt")


@attrs.frozen
class ApiKeyConfig:
    """One REST API key of a tenant: only its id and a hash are configured (see `smsswitch apikey new`)."""

    id: str
    key_hash: str
    scopes: frozenset[str] = frozenset({"send", "read"})
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


@attrs.frozen
class TenantConfig:
    """One business customer: who may bind, how fast, and where its receipts and MO go."""

    name: str
    system_id: str
    password_hash: str
    bind_types: frozenset[str] = frozenset({"transmitter", "receiver", "transceiver"})
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_binds: int = 10
    # Outstanding requests per bind in each direction (their submits, our deliver_sm).
    window: int = 100
    bind_tps: float = 0.0
    tenant_tps: float = 0.0
    default_region: str | None = None
    allowed_senders: tuple[str, ...] = ()
    # Used when a submit's source_addr is empty (SMPP: "the SMSC's default"); None refuses it.
    default_sender: str | None = None
    deliver_via: tuple[str, ...] = ("smpp",)
    webhook: WebhookConfig | None = None
    # Receipts and MO owed to an offline tenant are kept this long, then dead-lettered.
    outbox_ttl: float = 72 * 3600.0
    deliver_timeout: float = 30.0
    api_keys: tuple[ApiKeyConfig, ...] = ()


@attrs.frozen
class CarrierQuirks:
    """Where a carrier departs from SMPP 3.4 and we must follow it."""

    # How the carrier writes its message ids in receipts: "auto" tries both hex and decimal.
    receipt_id_format: Literal["auto", "hex", "decimal"] = "auto"
    # Where receipts carry their data: text body, receipted_message_id/message_state TLVs, or both.
    receipts_in: Literal["text", "tlv", "both"] = "both"
    max_segments: int = 10
    # What data_coding 0 means on this carrier's deliver_sm: GSM 03.38 (spec), Latin-1 or ASCII.
    dc0_charset: Literal["gsm", "latin1", "ascii"] = "gsm"


@attrs.frozen
class ConnectorConfig:
    """One carrier account: our SMPP client binds towards it."""

    name: str
    host: str
    port: int
    system_id: str
    password: str = ""
    system_type: str = ""
    tls: TlsClientConfig | None = None
    bind_mode: Literal["transceiver", "pair"] = "transceiver"
    sessions: int = 1
    window: int = 10
    # Submits per second for the connector as a whole (carriers sell throughput per account).
    max_tps: float = 0.0
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0
    source_addr: str | None = None
    source_ton: int = 1
    source_npi: int = 1
    data_coding: int | None = None
    # Attempts before a message that keeps failing transiently is given up on.
    max_attempts: int = 5
    # With no session bound for this long, queued messages are handed back to fail over to
    # the route's next connector (or wait on disk); 0 keeps them queued here.
    failover_after: float = 10.0
    # Permanent refusals (command_status values) that mean "not over this carrier" rather than
    # "never": such a message fails over to the route's next connector instead of ending
    # REJECTED (e.g. a carrier that refuses numbers it cannot reach with ESME_RINVDSTADR).
    failover_on: frozenset[int] = frozenset()
    quirks: CarrierQuirks = CarrierQuirks()


@attrs.frozen
class JournalConfig:
    path: str = "var/journal"
    map_size: int = 1 << 30
    max_map_size: int = 64 << 30
    commit_linger: float = 0.001
    commit_max_batch: int = 2000
    retention: float = 7 * 86400.0
    # Carrier receipts we cannot correlate yet are kept this long before dead-lettering.
    unmatched_receipt_ttl: float = 600.0


@attrs.frozen
class LoggingConfig:
    level: str = "info"
    format: Literal["json", "console", "auto"] = "auto"
    # Show full phone numbers and message text in logs (debugging only).
    unmask: bool = False
    file: str | None = None


@attrs.frozen
class HttpConfig:
    """Metrics, health and (later) the REST API listen here; port 0 disables it."""

    host: str = "127.0.0.1"
    port: int = 9775
    tls: TlsServerConfig | None = None
    # Webhook requests in flight per tenant (a slow endpoint only fills its own lane).
    webhook_concurrency: int = 4


@attrs.frozen
class SimulatorConfig:
    """The bundled carrier simulator, started inside the daemon (demo and tests)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 2776
    system_id: str = "sim"
    password: str = "simpass"
    receipt_delay: float = 0.5
    id_format: Literal["decimal", "hex"] = "hex"
    final_states: tuple[tuple[str, float], ...] = (("DELIVRD", 1.0),)
    # The behaviours below are what the carrier simulator can do to a connector (tests, demo).
    # Where receipts carry the id and state: text body, receipted_message_id/message_state TLVs.
    receipts_in: Literal["text", "tlv", "both"] = "both"
    # Ids in receipts in another base than in submit_sm_resp (a real carrier quirk).
    receipt_id_format: Literal["same", "decimal", "hex"] = "same"
    # Send the receipt before the submit_sm_resp that carries its id (a race carriers have).
    receipt_before_response: bool = False
    # Answer ESME_RTHROTTLED to submits above this many per second over all binds (0 = never).
    throttle_above: float = 0.0
    # Answer this fraction of submits with fail_status (0x45 ESME_RSUBMITFAIL by default).
    fail_fraction: float = 0.0
    fail_status: int = 0x45
    # Close a connection abruptly on its Nth submit_sm, leaving that one unanswered (0 = never).
    drop_every: int = 0
    # After every stall_after submits (per connection), stop answering anything for stall_for s.
    stall_after: int = 0
    stall_for: float = 0.0
    # Refuse binds (ESME_RBINDFAIL) for this long after the simulator starts.
    refuse_binds_for: float = 0.0
    # Answer each read's submits this long after they arrived (carrier latency).
    response_delay: float = 0.0
    tls: TlsServerConfig | None = None
    # Outstanding deliver_sm per connection; receipts wait (bounded) while a window is full.
    window: int = 100
    max_pending_receipts: int = 1_000_000
    # How many received submits `received()` keeps (the oldest are forgotten beyond it).
    keep_received: int = 100_000
    seed: int | None = None


@attrs.frozen
class CpuConfig:
    """CPU placement (Linux): the CPUs each of the daemon's processes may run on; empty:
    wherever the kernel puts it. The main process is one thread doing all SMPP and routing
    work, so a core of its own (nothing else scheduled there, caches kept warm) is worth
    much more than its share: see the README's Performance."""

    main: tuple[int, ...] = ()
    journal_writer: tuple[int, ...] = ()


@attrs.frozen
class DaemonConfig:
    """Everything `smsswitch run` needs; `source` is the file it came from (for messages)."""

    source: str
    routes_file: str
    server: ServerConfig = ServerConfig()
    tenants: tuple[TenantConfig, ...] = ()
    connectors: tuple[ConnectorConfig, ...] = ()
    journal: JournalConfig = JournalConfig()
    logging: LoggingConfig = LoggingConfig()
    http: HttpConfig = HttpConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    cpus: CpuConfig = CpuConfig()
    # On SIGTERM: how long carrier windows may drain before we exit.
    drain_grace: float = 10.0
    node_id: int = 0
    # The message policy file (smsswitch.policy), resolved; None: no policy checks.
    policy_file: str | None = None

    def tenant(self, name: str) -> TenantConfig | None:
        return next((t for t in self.tenants if t.name == name), None)

    def connector(self, name: str) -> ConnectorConfig | None:
        return next((c for c in self.connectors if c.name == name), None)
