"""What the core needs from its neighbours, as small protocols (so fakes and a future
cluster-wide implementation can slot in without the core importing them)."""

from __future__ import annotations

from typing import Protocol

from smsswitch.carrier.api import SubmitJob
from smsswitch.carrier.health import ConnectorHealth
from smsswitch.config import TenantConfig
from smsswitch.journal.records import OutboxEntry


class ConnectorPort(Protocol):
    """The part of `smsswitch.carrier.connector.Connector` the core drives."""

    name: str

    def try_submit(self, job: SubmitJob) -> bool:
        """Queue `job` if there is room now (never blocks)."""

    def health(self) -> ConnectorHealth: ...


class WebhookSender(Protocol):
    """Delivers webhook outbox entries (implemented by the http layer, above the core)."""

    async def send(self, tenant: TenantConfig, entries: list[OutboxEntry]) -> list[bool]:
        """POST each entry; True for each the tenant's endpoint acknowledged (2xx)."""
