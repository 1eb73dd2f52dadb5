"""A light read of a journalled message for the receipt path.

Building a full MessageRecord (33 fields, history entries) costs about ten times the
msgpack decode; a receipt needs only who sent what to whom. `MessageView` reads those
positions straight from the journal's versioned array (records.M_*), so the hot path pays
the decode and little more. It has the attribute names of MessageRecord that receipts use.
"""

from __future__ import annotations

from typing import Union

import lmdb

from smsswitch.journal.records import (
    M_CREATED, M_CLIENT_REF, M_DATA_CODING, M_DEST_NPI, M_DEST_TON, M_DESTINATION, M_ESM_CLASS, M_ID,
    M_PAYLOAD, M_REGISTERED_DELIVERY, M_SERVICE_TYPE, M_SOURCE, M_SOURCE_NPI, M_SOURCE_TON, M_STATE,
    M_TENANT, MessageRecord, MessageState, decode_message_fields,
)  # fmt: skip
from smsswitch.journal.store import Store


class MessageView:
    __slots__ = (
        "id", "tenant", "state", "source", "destination", "source_ton", "source_npi", "dest_ton",
        "dest_npi", "created", "payload", "esm_class", "data_coding", "registered_delivery",
        "service_type", "client_ref",
    )  # fmt: skip

    def __init__(self, f: list) -> None:
        self.id: str = f[M_ID]
        self.tenant: str = f[M_TENANT]
        self.state = MessageState(f[M_STATE])
        self.source: str = f[M_SOURCE]
        self.destination: str = f[M_DESTINATION]
        self.source_ton: int = f[M_SOURCE_TON]
        self.source_npi: int = f[M_SOURCE_NPI]
        self.dest_ton: int = f[M_DEST_TON]
        self.dest_npi: int = f[M_DEST_NPI]
        self.created: float = f[M_CREATED]
        self.payload: bytes = f[M_PAYLOAD]
        self.esm_class: int = f[M_ESM_CLASS]
        self.data_coding: int = f[M_DATA_CODING]
        self.registered_delivery: int = f[M_REGISTERED_DELIVERY]
        self.service_type: str = f[M_SERVICE_TYPE]
        self.client_ref: str | None = f[M_CLIENT_REF]


def read_view(store: Store, txn: lmdb.Transaction, message_id: str) -> MessageView | None:
    raw = txn.get(message_id.encode(), db=store.messages)
    return None if raw is None else MessageView(decode_message_fields(raw))


#: What a receipt can be built from: the full record or the light view.
ReceiptSubject = Union[MessageRecord, MessageView]
