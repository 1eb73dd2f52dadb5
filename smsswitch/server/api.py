"""The boundary between the tenant-facing SMPP server and the switch core.

The server (layer 4) speaks SMPP to tenants: it authenticates binds, enforces bind state,
windows and throughput, validates and normalises each submit (numbers parsed once into
`NumberInfo`), and hands the core *batches* — everything one socket read produced — so the core
can journal a batch in one group commit before the server answers ESME_ROK.

The other direction: the core owes tenants receipts and MO (its outbox). When a tenant's
receiver or transceiver bind comes up the server registers a `DeliveryOutlet` for it; the core
offers `OutboundDelivery` items to outlets (bounded: `offer` says no when the bind's window and
small queue are full), and the server reports each deliver_sm_resp back in batches. The core
removes an outbox entry only on a positive response.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from smsswitch.config import TenantConfig
from smsswitch.numbers import NumberInfo
from smsswitch.smpp.pdu import DeliverSm


@attrs.define(slots=True, eq=False)
class BindInfo:
    """One bound tenant session (identity for logs, limits and delivery)."""

    bind_id: str
    tenant: TenantConfig
    bind_type: str  # "transmitter" | "receiver" | "transceiver"
    peer_host: str
    peer_port: int


@attrs.define(slots=True, eq=False)
class SubmitRequest:
    """A validated submit_sm / data_sm / one destination of a submit_multi.

    `payload` is the message body as the tenant sent it (short_message or message_payload),
    including a UDH when `esm_class` has UDHI; `part` is (reference, total, sequence) when the
    tenant sent one part of a concatenated message (UDH or sar_* TLVs), else None — each part
    gets its own message id, as tenants expect.
    """

    source: NumberInfo
    destination: NumberInfo
    source_ton: int
    source_npi: int
    dest_ton: int
    dest_npi: int
    data_coding: int
    esm_class: int
    payload: bytes
    registered_delivery: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    validity: float | None = None  # absolute, epoch seconds
    schedule: float | None = None  # absolute, epoch seconds
    part: tuple[int, int, int] | None = None
    service_type: str = ""
    # TLVs to carry to the carrier unchanged (e.g. user_message_reference); codec tag → value.
    tlvs: dict[int, object] = attrs.field(factory=dict)
    client_reference: str | None = None


@attrs.define(slots=True)
class SubmitAnswer:
    """The core's answer to one SubmitRequest: ESME_ROK with our id, or the refusing status."""

    status: int
    message_id: str = ""


@attrs.define(slots=True)
class QueryAnswer:
    status: int
    message_id: str = ""
    final_date: str = ""  # SMPP absolute time or ""
    message_state: int = 0  # SMPP MessageState
    error_code: int = 0


@attrs.define(slots=True, eq=False)
class OutboundDelivery:
    """One receipt or MO owed to a tenant, ready to send as deliver_sm (sequence unset)."""

    entry_id: str
    pdu: DeliverSm


class DeliveryOutlet(Protocol):
    """Implemented by the server for each bound receiver/transceiver session."""

    bind: BindInfo

    def offer(self, delivery: OutboundDelivery) -> bool:
        """Queue for sending if the bind has room (window + a small buffer); never blocks."""

    def room(self) -> int:
        """How many more deliveries `offer` would take right now."""


class TenantSink(Protocol):
    """Implemented by the core; called by the server's session tasks."""

    async def submit(self, bind: BindInfo, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        """Accept (journal durably, then route) or refuse each request; one answer per request,
        in order. Returns only after accepted ones are durable."""

    async def query(self, bind: BindInfo, message_id: str, source_addr: str) -> QueryAnswer: ...

    async def cancel(self, bind: BindInfo, message_id: str, source_addr: str, destination_addr: str) -> int:
        """ESME_ROK, or ESME_RCANCELFAIL for a message already sent to a carrier or unknown."""

    async def replace(
        self, bind: BindInfo, message_id: str, source_addr: str, new_payload: bytes,
        registered_delivery: int, validity: float | None, schedule: float | None,
    ) -> int:
        """ESME_ROK, or ESME_RREPLACEFAIL for a message already sent to a carrier or unknown."""

    def outlet_up(self, outlet: DeliveryOutlet) -> None:
        """A receiver/transceiver bind of `outlet.bind.tenant` can take deliveries now."""

    def outlet_down(self, outlet: DeliveryOutlet, unanswered: list[OutboundDelivery]) -> None:
        """The bind is gone; `unanswered` were sent or queued but never positively answered
        (they stay in the outbox and are offered again)."""

    async def deliveries_answered(self, bind: BindInfo, answers: list[tuple[str, int]]) -> None:
        """(entry_id, deliver_sm_resp status) for a batch; ESME_ROK removes the outbox entry."""
