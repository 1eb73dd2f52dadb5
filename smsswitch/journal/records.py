"""What the journal stores: message records, outbox entries, dead letters, as msgpack.

Every record is a msgpack array whose first element is its schema version; fields are
positional (compact: no key names on disk) and only ever appended. Decoding therefore
tolerates older records (missing trailing fields take their defaults) and newer ones
(unknown trailing fields are ignored), so a rollback never makes the journal unreadable.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any

import attrs
import msgpack

from smsswitch.smpp.constants import MessageState as SmppMessageState

SCHEMA_VERSION = 1
#: History keeps the first entry and the newest ones so retry storms cannot grow a record.
MAX_HISTORY = 32


class MessageState(enum.IntEnum):
    """Our life cycle of an MT message (richer than SMPP's message_state; see `smpp`)."""

    ACCEPTED = 1  # journalled, submit_sm_resp sent to the tenant
    QUEUED = 2  # routed, waiting for its connector
    SUBMITTED = 3  # submit_sm on the wire to the carrier, no answer yet
    ENROUTE = 4  # the carrier accepted it and gave its message id
    DELIVERED = 5
    UNDELIVERABLE = 6
    EXPIRED = 7
    REJECTED = 8
    DELETED = 9
    UNKNOWN = 10

    @property
    def terminal(self) -> bool:
        """A final state: no transition leaves it (except an operator's redrive)."""
        return self >= MessageState.DELIVERED

    @property
    def smpp(self) -> SmppMessageState:
        """The SMPP message_state for query_sm_resp and receipts."""
        return _SMPP_STATE[self]


_SMPP_STATE = {
    MessageState.ACCEPTED: SmppMessageState.ENROUTE,
    MessageState.QUEUED: SmppMessageState.ENROUTE,
    MessageState.SUBMITTED: SmppMessageState.ENROUTE,
    MessageState.ENROUTE: SmppMessageState.ENROUTE,
    MessageState.DELIVERED: SmppMessageState.DELIVERED,
    MessageState.UNDELIVERABLE: SmppMessageState.UNDELIVERABLE,
    MessageState.EXPIRED: SmppMessageState.EXPIRED,
    MessageState.REJECTED: SmppMessageState.REJECTED,
    MessageState.DELETED: SmppMessageState.DELETED,
    MessageState.UNKNOWN: SmppMessageState.UNKNOWN,
}
PENDING_STATES = frozenset({MessageState.ACCEPTED, MessageState.QUEUED})
IN_FLIGHT_STATES = frozenset({MessageState.SUBMITTED, MessageState.ENROUTE})
TERMINAL_STATES = frozenset(s for s in MessageState if s.terminal)


class OutboxKind(str, enum.Enum):
    """What an outbox entry owes its tenant."""

    RECEIPT = "receipt"  # a delivery receipt (deliver_sm with esm_class receipt bit)
    MO = "mo"  # a mobile-originated message
    WEBHOOK = "webhook"  # an HTTP event for a tenant that takes webhooks


class DeadLetterKind(str, enum.Enum):
    OUTBOX = "outbox"  # an outbox entry that expired or exhausted its attempts
    MESSAGE = "message"  # an MT message that could not be sent (record stays in messages)


@attrs.frozen
class PartInfo:
    """Concatenation info of a part the tenant sent (UDH or sar_* TLVs)."""

    ref: int
    total: int
    seq: int


@attrs.frozen
class HistoryEntry:
    state: MessageState
    at: float
    detail: str | None = None


@attrs.frozen
class MessageRecord:
    """One MT message as accepted from a tenant, and where it is in its life."""

    id: str
    tenant: str
    source: str
    destination: str
    created: float
    state: MessageState = MessageState.ACCEPTED
    bind: str = ""
    source_ton: int = 0
    source_npi: int = 0
    dest_ton: int = 0
    dest_npi: int = 0
    data_coding: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    priority: int = 0
    payload: bytes = b""
    part: PartInfo | None = None
    registered_delivery: int = 0
    validity: float | None = None  # absolute Unix seconds
    schedule: float | None = None  # absolute Unix seconds
    route: str | None = None
    connector: str | None = None
    carrier_id: str | None = None
    error: int | None = None
    history: tuple[HistoryEntry, ...] = ()
    attempts: int = 0
    updated: float = attrs.field(default=attrs.Factory(lambda self: self.created, takes_self=True))
    client_ref: str | None = None
    #: Ordering time in the by-state index (send-after, expiry, or terminal time); None
    #: lets the store derive it from the state (see `default_due`).
    due: float | None = None
    service_type: str = ""
    tlvs: tuple[tuple[int, bytes], ...] = ()
    #: Earlier (connector, carrier id) pairs of this message (re-sent after a restart or a
    #: failover), kept so their correlation entries are found and removed with the message.
    previous_carriers: tuple[tuple[str, str], ...] = ()
    #: The name of the approved template the text matched (message policy), or of the
    #: auto-reply text for messages the switch sent itself; None when no template applies.
    template: str | None = None


# Positions in the encoded message array (index 0 is the schema version).
M_ID, M_TENANT, M_SOURCE, M_DESTINATION, M_CREATED, M_STATE, M_BIND = range(1, 8)
M_SOURCE_TON, M_SOURCE_NPI, M_DEST_TON, M_DEST_NPI = range(8, 12)
M_DATA_CODING, M_ESM_CLASS, M_PROTOCOL_ID, M_PRIORITY, M_PAYLOAD, M_PART = range(12, 18)
M_REGISTERED_DELIVERY, M_VALIDITY, M_SCHEDULE, M_ROUTE, M_CONNECTOR = range(18, 23)
M_CARRIER_ID, M_ERROR, M_HISTORY, M_ATTEMPTS, M_UPDATED, M_CLIENT_REF = range(23, 29)
M_DUE, M_SERVICE_TYPE, M_TLVS, M_PREVIOUS_CARRIERS, M_TEMPLATE = range(29, 34)
#: At most this many earlier carrier submissions are remembered per message.
MAX_PREVIOUS_CARRIERS = 8
_MESSAGE_DEFAULTS: list[Any] = [
    SCHEMA_VERSION, "", "", "", "", 0.0, int(MessageState.ACCEPTED), "",
    0, 0, 0, 0, 0, 0, 0, 0, b"", None, 0, None, None, None, None, None, None,
    [], 0, 0.0, None, None, "", [], [], None,
]  # fmt: skip
_MESSAGE_LEN = len(_MESSAGE_DEFAULTS)
assert _MESSAGE_LEN == M_TEMPLATE + 1


# States are ordered pending < in flight < terminal; int compares beat enum set lookups.
_LAST_PENDING = int(MessageState.QUEUED)
_LAST_IN_FLIGHT = int(MessageState.ENROUTE)
assert PENDING_STATES == {s for s in MessageState if s <= _LAST_PENDING}
assert IN_FLIGHT_STATES == {s for s in MessageState if _LAST_PENDING < s <= _LAST_IN_FLIGHT}


def default_due(state: int, at: float, schedule: float | None, validity: float | None) -> float:
    """Order in the by-state index: send-after time while pending, expiry while in flight,
    and the time it ended once terminal (retention purges by that)."""
    if state <= _LAST_PENDING:
        return schedule if schedule is not None else at
    if state <= _LAST_IN_FLIGHT:
        return validity if validity is not None else at
    return at


def message_to_fields(rec: MessageRecord) -> list[Any]:
    """The positional array for a record, with its `due` filled in."""
    due = rec.due if rec.due is not None else default_due(rec.state, rec.updated, rec.schedule, rec.validity)
    part = rec.part
    return [
        SCHEMA_VERSION, rec.id, rec.tenant, rec.source, rec.destination, rec.created,
        int(rec.state), rec.bind, rec.source_ton, rec.source_npi, rec.dest_ton, rec.dest_npi,
        rec.data_coding, rec.esm_class, rec.protocol_id, rec.priority, rec.payload,
        None if part is None else [part.ref, part.total, part.seq],
        rec.registered_delivery, rec.validity, rec.schedule, rec.route, rec.connector,
        rec.carrier_id, rec.error, [[int(h.state), h.at, h.detail] for h in rec.history],
        rec.attempts, rec.updated, rec.client_ref, due, rec.service_type,
        [[tag, value] for tag, value in rec.tlvs],
        [[c, i] for c, i in rec.previous_carriers], rec.template,
    ]  # fmt: skip


def upgrade_message_fields(fields: list[Any]) -> list[Any]:
    """Bring a decoded array of any schema version to the current positional layout."""
    n = len(fields)
    if n != _MESSAGE_LEN:
        if n < _MESSAGE_LEN:
            fields.extend(copy.deepcopy(_MESSAGE_DEFAULTS[n:]))
        else:
            del fields[_MESSAGE_LEN:]
    if fields[M_DUE] is None:
        fields[M_DUE] = default_due(fields[M_STATE], fields[M_UPDATED], fields[M_SCHEDULE], fields[M_VALIDITY])
    return fields


#: MessageRecord's fields in declaration order sit at positions 1.. of the array, so the
#: decoder passes them positionally (34 keyword arguments cost as much as the rest of it).
assert [a.name for a in attrs.fields(MessageRecord)] == [
    "id", "tenant", "source", "destination", "created", "state", "bind", "source_ton",
    "source_npi", "dest_ton", "dest_npi", "data_coding", "esm_class", "protocol_id", "priority",
    "payload", "part", "registered_delivery", "validity", "schedule", "route", "connector",
    "carrier_id", "error", "history", "attempts", "updated", "client_ref", "due", "service_type",
    "tlvs", "previous_carriers", "template",
]  # fmt: skip
assert (M_STATE, M_PART, M_HISTORY, M_TLVS, M_PREVIOUS_CARRIERS, M_TEMPLATE) == (6, 17, 25, 31, 32, 33)
#: MessageState by its int: a tuple index is ten times cheaper than MessageState(n).
_STATE_OF: tuple[MessageState, ...] = tuple(
    MessageState(n) if n in MessageState._value2member_map_ else None for n in range(max(MessageState) + 1)
)  # type: ignore[misc]


def _state_of(n: int) -> MessageState:
    state = _STATE_OF[n] if 0 <= n < len(_STATE_OF) else None
    return MessageState(n) if state is None else state  # MessageState raises for a bad value


def fields_to_message(f: list[Any]) -> MessageRecord:
    """The record for a decoded (upgraded) array; does not change `f`."""
    values = f[1:]
    state_of = _state_of
    values[M_STATE - 1] = state_of(f[M_STATE])
    part = f[M_PART]
    if part is not None:
        values[M_PART - 1] = PartInfo(*part)
    values[M_HISTORY - 1] = tuple([HistoryEntry(state_of(s), at, d) for s, at, d in f[M_HISTORY]])
    values[M_TLVS - 1] = tuple(map(tuple, f[M_TLVS])) if f[M_TLVS] else ()
    prev = f[M_PREVIOUS_CARRIERS]
    values[M_PREVIOUS_CARRIERS - 1] = tuple(map(tuple, prev)) if prev else ()
    return MessageRecord(*values)


def pack(fields: list[Any]) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


def new_packer() -> Callable[[Any], bytes]:
    """A reusable packer (packb builds a new Packer per call, ~2 µs of a 5 µs pack). Not
    thread-safe: one per writer (the Store's writes all run under LMDB's write lock)."""
    return msgpack.Packer(use_bin_type=True).pack


_unpackb = msgpack.unpackb  # bound once: the attribute lookup shows on the writer's hot path


def unpack(data: bytes) -> Any:
    return _unpackb(data, raw=False, use_list=True, strict_map_key=False)


def encode_message(rec: MessageRecord) -> bytes:
    return pack(message_to_fields(rec))


def decode_message_fields(data: bytes) -> list[Any]:
    return upgrade_message_fields(unpack(data))


def decode_message(data: bytes) -> MessageRecord:
    return fields_to_message(decode_message_fields(data))


def append_history(history: list[Any], state: int, at: float, detail: str | None) -> None:
    """Append in place, keeping the first entry and the newest MAX_HISTORY - 1."""
    history.append([state, at, detail])
    if len(history) > MAX_HISTORY:
        del history[1 : len(history) - MAX_HISTORY + 1]


@attrs.frozen
class OutboxEntry:
    """Something owed to a tenant; removed only on the tenant's positive acknowledgement."""

    id: str
    tenant: str
    kind: OutboxKind
    #: The fields to build the deliver_sm or webhook from (msgpack-able values only).
    payload: dict[str, Any] = attrs.field(factory=dict, hash=False)
    created: float = 0.0
    attempts: int = 0
    next_attempt: float = 0.0
    expires: float | None = None
    #: The subscriber's number (receipt: the message's destination; MO: its source), so that
    #: erase(msisdn) finds the entry. None when there is no phone number.
    msisdn: str | None = None
    #: Our message id this entry is about (receipts), for show/debugging.
    message_id: str | None = None


# Positions in the encoded outbox array that the store reads without decoding an entry.
O_ID, O_TENANT, O_MSISDN = 1, 2, 9
_OUTBOX_DEFAULTS: list[Any] = [SCHEMA_VERSION, "", "", "receipt", {}, 0.0, 0, 0.0, None, None, None]


def encode_outbox(e: OutboxEntry) -> bytes:
    return pack(outbox_fields(e))


def outbox_fields(e: OutboxEntry) -> list[Any]:
    """The positional array of an entry (the store packs it with its own packer)."""
    return [
        SCHEMA_VERSION, e.id, e.tenant, e.kind.value, e.payload, e.created, e.attempts,
        e.next_attempt, e.expires, e.msisdn, e.message_id,
    ]  # fmt: skip


#: OutboxKind by its value: a dict lookup is several times cheaper than OutboxKind(text).
_KIND_OF = {kind.value: kind for kind in OutboxKind}
# The entry's fields in declaration order sit at positions 1.. of the array (decoded positionally).
assert [a.name for a in attrs.fields(OutboxEntry)] == [
    "id", "tenant", "kind", "payload", "created", "attempts", "next_attempt", "expires", "msisdn", "message_id",
]  # fmt: skip


def fields_to_outbox(f: list[Any]) -> OutboxEntry:
    n = len(f)
    if n < len(_OUTBOX_DEFAULTS):
        f = f + copy.deepcopy(_OUTBOX_DEFAULTS[n:])
    kind = _KIND_OF.get(f[3]) or OutboxKind(f[3])  # OutboxKind raises for an unknown kind
    return OutboxEntry(f[1], f[2], kind, f[4], f[5], f[6], f[7], f[8], f[9], f[10])


def decode_outbox(data: bytes) -> OutboxEntry:
    return fields_to_outbox(unpack(data))


@attrs.frozen
class DeadLetter:
    """What gave up, why and when; `entry` for outbox letters, `message_id` for messages."""

    id: str
    kind: DeadLetterKind
    reason: str
    at: float
    entry: OutboxEntry | None = None
    message_id: str | None = None
    tenant: str = ""
    msisdn: str | None = None


def encode_dead_letter(d: DeadLetter) -> bytes:
    return pack(
        [
            SCHEMA_VERSION, d.id, d.kind.value, d.reason, d.at,
            None if d.entry is None else outbox_fields(d.entry), d.message_id, d.tenant, d.msisdn,
        ]
    )  # fmt: skip


def decode_dead_letter(data: bytes) -> DeadLetter:
    f = unpack(data)
    f = f + [None] * (9 - len(f))
    return DeadLetter(
        id=f[1], kind=DeadLetterKind(f[2]), reason=f[3], at=f[4],
        entry=None if f[5] is None else fields_to_outbox(f[5]), message_id=f[6],
        tenant=f[7] or "", msisdn=f[8],
    )  # fmt: skip
