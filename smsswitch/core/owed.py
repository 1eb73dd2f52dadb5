"""What the switch owes a tenant (receipts, MO) as outbox entries, and the op that ends a
message's life together with its receipt.

A message's final state and the receipt it earns are written in one commit, the receipt as
the Transition's `on_applied` ops: a duplicate or late carrier receipt (the message is
already final) then adds nothing, so a tenant gets exactly one receipt per message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from smsswitch.config import TenantConfig
from smsswitch.core.receipts import STAT_OF, tenant_receipt, wants_receipt
from smsswitch.core.views import ReceiptSubject
from smsswitch.journal.ops import AddOutbox, DeadLetterMessage, DeadLetterOutbox, Transition
from smsswitch.journal.records import MessageState, OutboxEntry, OutboxKind

#: Pseudo-tenant under which core-internal entries are filed: unmatched carrier receipts
#: waiting for their correlation, and dead letters that belong to no tenant (unroutable MO,
#: unreadable receipts). Not a valid tenant name in the config (it starts with "~").
PARKED_TENANT = "~parked"
DEAD_TENANT = "~unowned"

#: Ops that may end an MT message (any non-terminal state).
LIVE_STATES = frozenset(s for s in MessageState if not s.terminal)


class Owed:
    """Builds outbox entries for tenants, according to each tenant's delivery channels."""

    def __init__(self, tenants: Mapping[str, TenantConfig], new_id: Callable[[], str]) -> None:
        self.tenants = tenants
        self.new_id = new_id

    def channels(self, tenant: TenantConfig, via: tuple[str, ...] | None = None) -> list[OutboxKind]:
        """SMPP and/or webhook; webhook only when the tenant has one configured."""
        chosen = via if via else tenant.deliver_via
        kinds = []
        if "smpp" in chosen:
            kinds.append(OutboxKind.RECEIPT)
        if "webhook" in chosen and tenant.webhook is not None:
            kinds.append(OutboxKind.WEBHOOK)
        return kinds

    def receipt(self, record: ReceiptSubject, state: MessageState, error: int, at: float) -> list[OutboxEntry]:
        """The receipt(s) a final state earns, [] if the tenant did not ask for one."""
        tenant = self.tenants.get(record.tenant)
        if tenant is None or not wants_receipt(record.registered_delivery, state):
            return []
        entries = []
        for kind in self.channels(tenant):
            if kind is OutboxKind.WEBHOOK:
                payload = webhook_receipt(record, state, error, at)
            else:
                payload = tenant_receipt(record, state, error, at)
            entries.append(self._entry(tenant, kind, payload, at, record.destination, record.id))
        return entries

    def mo(
        self, tenant: TenantConfig, via: tuple[str, ...] | None, smpp: dict, webhook: dict, sender: str, at: float
    ) -> list[OutboxEntry]:
        """An MO for `tenant` on the channels the route (or else the tenant) names."""
        entries = []
        for kind in self.channels(tenant, via):
            if kind is OutboxKind.WEBHOOK:
                entries.append(self._entry(tenant, OutboxKind.WEBHOOK, webhook, at, sender, None))
            else:
                entries.append(self._entry(tenant, OutboxKind.MO, smpp, at, sender, None))
        return entries

    def dead(self, kind: OutboxKind, payload: dict, reason: str, at: float, msisdn: str | None) -> list[Any]:
        """Ops that file something no tenant owns straight into the dead letters."""
        entry = OutboxEntry(
            id=self.new_id(), tenant=DEAD_TENANT, kind=kind, payload=payload, created=at, msisdn=msisdn
        )
        return [AddOutbox(entry), DeadLetterOutbox(entry.id, reason, at)]

    def _entry(
        self, tenant: TenantConfig, kind: OutboxKind, payload: dict, at: float, msisdn: str | None,
        message_id: str | None,
    ) -> OutboxEntry:
        return OutboxEntry(
            id=self.new_id(), tenant=tenant.name, kind=kind, payload=payload, created=at,
            next_attempt=at, expires=at + tenant.outbox_ttl, msisdn=msisdn, message_id=message_id,
        )  # fmt: skip

    def finish(
        self,
        record: ReceiptSubject,
        state: MessageState,
        at: float,
        *,
        error: int = 0,
        detail: str | None = None,
        dead_letter: str | None = None,
        receipt: bool = True,
    ) -> tuple[Transition, list[OutboxEntry]]:
        """The op that ends `record` in `state` (and owes its receipt, if asked for).

        Applies from any live state; does nothing if the message already ended."""
        entries = self.receipt(record, state, error, at) if receipt else []
        after: list[Any] = [AddOutbox(e) for e in entries]
        if dead_letter:
            after.append(DeadLetterMessage(record.id, dead_letter, at))
        op = Transition(
            record.id, state, at, detail=detail, error=error or None, expect=LIVE_STATES,
            on_applied=tuple(after),
        )  # fmt: skip
        return op, entries


def webhook_receipt(record: ReceiptSubject, state: MessageState, error: int, at: float) -> dict:
    """A receipt as the JSON event a webhook receives."""
    return {
        "event": "receipt",
        "message_id": record.id,
        "status": STAT_OF.get(state, "UNKNOWN"),
        "error": error,
        "to": record.destination,
        "from": record.source,
        "submitted": record.created,
        "done": at,
        "client_ref": record.client_ref,
    }
