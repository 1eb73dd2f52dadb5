"""Carrier receipts that arrived before we knew the carrier's id for the message.

A fast carrier can send the receipt before (or while) its submit_sm_resp reaches us, and a
carrier may write its id differently in the two. Such a receipt is answered ESME_ROK (a
carrier told "error" would resend it forever), filed durably as an outbox entry of the
pseudo-tenant PARKED_TENANT, and indexed here under every form of its id. When the
correlation lands it is applied; a periodic re-check catches the races; after
`unmatched_receipt_ttl` it becomes a dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from smsswitch.core.receipts import CarrierReceipt
from smsswitch.journal.records import MessageState, OutboxEntry, OutboxKind
from smsswitch.smpp.receipt import carrier_id_variants


@attrs.frozen(slots=True)
class ParkedReceipt:
    entry_id: str
    connector: str
    receipt: CarrierReceipt
    at: float

    def payload(self) -> dict:
        r = self.receipt
        return {
            "connector": self.connector, "carrier_id": r.carrier_id, "error": r.error, "stat": r.stat,
            "state": None if r.state is None else int(r.state),
        }  # fmt: skip

    @classmethod
    def from_entry(cls, entry: OutboxEntry) -> ParkedReceipt:
        p = entry.payload
        state = None if p.get("state") is None else MessageState(p["state"])
        receipt = CarrierReceipt(p["carrier_id"], state, p.get("error", 0), p.get("stat", ""))
        return cls(entry.id, p["connector"], receipt, entry.created)

    def entry(self, tenant: str, ttl: float) -> OutboxEntry:
        return OutboxEntry(
            id=self.entry_id, tenant=tenant, kind=OutboxKind.RECEIPT, payload=self.payload(),
            created=self.at, expires=self.at + ttl,
        )  # fmt: skip


class ParkedReceipts:
    """Bounded in-memory index of parked receipts by (connector, id form)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._by_id: dict[str, ParkedReceipt] = {}  # entry id -> parked
        self._by_key: dict[tuple[str, str], list[str]] = {}  # (connector, form) -> entry ids

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def full(self) -> bool:
        return len(self._by_id) >= self.limit

    def add(self, parked: ParkedReceipt) -> None:
        self._by_id[parked.entry_id] = parked
        for form in carrier_id_variants(parked.receipt.carrier_id):
            self._by_key.setdefault((parked.connector, form), []).append(parked.entry_id)

    def find(self, connector: str, carrier_id: str) -> list[ParkedReceipt]:
        """Every receipt parked under any form of this carrier id (they stay parked)."""
        if not self._by_id:
            return []
        found: dict[str, ParkedReceipt] = {}
        for form in carrier_id_variants(carrier_id):
            for entry_id in self._by_key.get((connector, form), ()):
                parked = self._by_id.get(entry_id)
                if parked is not None:
                    found[entry_id] = parked
        return list(found.values())

    def remove(self, entry_id: str) -> ParkedReceipt | None:
        parked = self._by_id.pop(entry_id, None)
        if parked is not None:
            for form in carrier_id_variants(parked.receipt.carrier_id):
                key = (parked.connector, form)
                ids = self._by_key.get(key)
                if ids is not None:
                    if entry_id in ids:
                        ids.remove(entry_id)
                    if not ids:
                        del self._by_key[key]
        return parked

    def all(self) -> Iterable[ParkedReceipt]:
        return list(self._by_id.values())
