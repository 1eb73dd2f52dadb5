"""What the core needs from its neighbours, as small protocols (so fakes and a future
cluster-wide implementation can slot in without the core importing them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from smsswitch.carrier.api import SubmitJob
from smsswitch.carrier.health import ConnectorHealth
from smsswitch.config import TenantConfig


class ConnectorPort(Protocol):
    """The part of `smsswitch.carrier.connector.Connector` the core drives."""

    name: str

    def try_submit(self, job: SubmitJob) -> bool:
        """Queue `job` if there is room now (never blocks)."""

    def health(self) -> ConnectorHealth: ...


class WebhookChannel(Protocol):
    """Delivers WEBHOOK outbox entries (smsswitch.http.webhooks.WebhookDispatcher, above the
    core): it pages the journal itself; the core runs it and kicks it after new entries."""

    counts: dict[str, int]

    def kick(self) -> None: ...

    def set_tenants(self, tenants: Mapping[str, TenantConfig]) -> None: ...

    async def run(self) -> None: ...
