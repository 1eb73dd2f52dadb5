"""What a route lookup answers: immutable values the core acts on and keeps with the message."""

from __future__ import annotations

import attrs

from smsswitch.smpp.constants import CommandStatus

__all__ = ["MtDecision", "MoDecision"]


@attrs.frozen
class MtDecision:
    """Where an MT message goes, or why it may not.

    action: "connectors" (fixed failover order), "split" (weighted pick first, the rest as
    failover), "least_cost" (cheapest first), "reject" (a rule said so) or "no_route".
    connectors: try in this order; the next one when a connector is down or rejects.
    status: ESME_ROK when routed, else the SMPP status to answer the tenant with.
    """

    rule: str | None
    action: str
    connectors: tuple[str, ...] = ()
    status: CommandStatus = CommandStatus.ESME_ROK
    reason: str = ""

    @property
    def routed(self) -> bool:
        return self.status == CommandStatus.ESME_ROK


@attrs.frozen
class MoDecision:
    """Where an MO message goes.

    action: "deliver" (to `tenant`), "drop" (a rule discards it, `reason` says why) or
    "dead_letter" (nothing matched and no default is configured).
    via: the channels ("smpp", "webhook") or None for the tenant's own configured default.
    keyword: the normalised first word. opt: "out"/"in" when that word is an opt-out/opt-in
    keyword; the core then updates the suppression of (tenant, sender).
    """

    rule: str | None
    action: str
    tenant: str | None = None
    via: tuple[str, ...] | None = None
    reason: str = ""
    keyword: str = ""
    opt: str | None = None

    @property
    def delivered(self) -> bool:
        return self.action == "deliver"
