"""The boundary between carrier connectors and the switch core.

Connectors (layer 4) never import the core (layer 5): the core hands each connector a
`CarrierSink` and pushes `SubmitJob`s into the connector; the connector reports back in
batches — one call per socket read, not one per message — so the core can turn a whole batch
into one journal commit.

Who decides what:
- The connector owns transient trouble: window, pacing, throttling (0x58) and queue-full (0x14)
  back-off, response timeouts, dead sessions. It retries such a job itself (on any of its
  sessions) up to `ConnectorConfig.max_attempts`, then reports it as `GAVE_UP` so the core can
  fail it over to the route's next connector or end it. When the carrier stays unreachable
  (no session bound for `failover_after`), queued jobs come back as `UNAVAILABLE`.
- The core owns a message's life: it journals every outcome and builds the tenant's receipt.
- A deliver_sm from the carrier is answered only after the core's `carrier_delivers` returned,
  i.e. after the journal holds what arrived; its return value is the deliver_sm_resp status.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from smsswitch.smpp.pdu import DataSm, DeliverSm, SubmitSm


class SubmitOutcome(enum.Enum):
    """What finally happened to one submit_sm on a connector."""

    ACCEPTED = "accepted"  # ESME_ROK: carrier_message_id is set
    REJECTED = "rejected"  # a permanent error status from the carrier (not retried)
    GAVE_UP = "gave_up"  # transient failures exhausted max_attempts (or connector stopping)
    EXPIRED = "expired"  # the job's deadline passed before it could be sent
    # No session of the connector has been bound for `failover_after` seconds: the job was
    # handed back unsent (or lost with its session) so the core can fail it over to the
    # route's next connector, or keep it on disk until this one is up again.
    UNAVAILABLE = "unavailable"


@attrs.define(slots=True, eq=False)
class SubmitJob:
    """One submit_sm for a carrier: one segment of one of our messages.

    `pdu` is complete except for sequence_number (the session assigns it); the connector may
    fill defaults from its config (source address/TON/NPI when empty). `deadline` is a wall
    clock time (epoch seconds) after which sending is pointless (validity period).
    """

    message_id: str
    pdu: SubmitSm
    part: int = 0
    attempts: int = 0
    deadline: float | None = None
    # Opaque to the connector: the core's own bookkeeping (e.g. remaining failover connectors).
    context: object = None


@attrs.define(slots=True)
class SubmitResult:
    job: SubmitJob
    outcome: SubmitOutcome
    command_status: int = 0
    carrier_message_id: str | None = None
    # Human-readable cause for logs and dead letters ("timeout", "session lost", status name).
    detail: str = ""
    # Seconds from the write of the submit_sm to its response (None if there was no response).
    latency: float | None = None


class CarrierSink(Protocol):
    """Implemented by the core; called by connectors from their session tasks."""

    async def submits_sent(self, connector: str, jobs: list[SubmitJob]) -> None:
        """These jobs just went on the wire (QUEUED → SUBMITTED). Must not block on disk."""

    async def submit_results(self, connector: str, results: list[SubmitResult]) -> None:
        """Final outcomes of jobs (ACCEPTED with the carrier id, REJECTED, GAVE_UP, EXPIRED).

        Returns once the core has recorded them (the correlation must be durable before a
        receipt for the same id can be matched; receipts that arrive first are parked).
        """

    async def carrier_delivers(self, connector: str, pdus: list[DeliverSm | DataSm]) -> list[int]:
        """Receipts and MO from the carrier; returns the deliver_sm_resp/data_sm_resp status of
        each, after the journal holds what arrived (ESME_ROK, or e.g. ESME_RX_T_APPN to ask
        the carrier to retry later when our journal cannot take it)."""
