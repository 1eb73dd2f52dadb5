"""Operation values: what a caller asks the journal to do, applied later in a shared commit.

Callers build small values and hand a list to `Journal.commit`; the group-commit
writer applies many callers' lists in one write transaction. Each op's `apply` returns its
result (usually whether it changed anything), and `commit` returns those results in order.

The classes are attrs slots classes, not frozen ones: a frozen __init__ sets each field
through object.__setattr__ (1.7 µs for a Transition instead of 0.4), and every message
builds several. Treat them as values all the same: never change an op once committed.
"""

from __future__ import annotations

import pickle
from typing import Any, ClassVar, Union

import attrs
import lmdb

from smsswitch.journal import keys
from smsswitch.journal.records import (
    MessageRecord,
    MessageState,
    OutboxEntry,
    fields_to_outbox,
    message_to_fields,
    outbox_fields,
)
from smsswitch.journal.store import Store


@attrs.define
class PutMessage:
    """Journal a message (new on accept, or a full replacement). Result: True if new."""

    record: MessageRecord
    #: Adds data: refused first when the journal nears its maximum size.
    grows: ClassVar[bool] = True

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.put_message(txn, self.record)


@attrs.define
class Transition:
    """Move a message to `state`. Result: True if applied; False when the message is
    missing, already terminal, or its current state is not in `expect`. `on_applied` ops run
    only when it applied, in the same transaction: e.g. add the receipt's outbox entry only
    for the first final receipt, never for a duplicate."""

    id: str
    state: MessageState
    at: float
    detail: str | None = None
    error: int | None = None
    route: str | None = None
    connector: str | None = None
    carrier_id: str | None = None
    count_attempt: bool = False
    due: float | None = None
    expect: frozenset[MessageState] | None = None
    on_applied: tuple[Any, ...] = ()

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        applied = store.transition_positional(
            txn, self.id, self.state, self.at, self.detail, self.error, self.route, self.connector,
            self.carrier_id, self.count_attempt, self.due, self.expect, False,
        )  # fmt: skip
        if applied:
            for op in self.on_applied:
                op.apply(store, txn)
        return applied


@attrs.define
class Correlate:
    """Record the carrier's message id for ours without a state change. Result: bool."""

    id: str
    connector: str
    carrier_id: str

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.correlate(txn, self.id, self.connector, self.carrier_id)


@attrs.define
class DeleteMessage:
    """Remove a message and everything indexing it (retention, erase). Result: bool."""

    id: str

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.delete_message(txn, self.id)


@attrs.define
class AddOutbox:
    """Owe an entry (receipt, MO, webhook event) to its tenant. Result: True if new."""

    entry: OutboxEntry
    grows: ClassVar[bool] = True

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.add_outbox(txn, self.entry)


@attrs.define
class AckOutbox:
    """The tenant acknowledged the entry: forget it. Result: True if it was there."""

    id: str

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.discard_outbox(txn, self.id)


@attrs.define
class RescheduleOutbox:
    """A delivery attempt failed: count it and note when to retry. Result: bool."""

    id: str
    next_attempt: float
    attempts_delta: int = 1

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.reschedule_outbox(txn, self.id, self.next_attempt, self.attempts_delta)


@attrs.define
class DeadLetterOutbox:
    """Move an outbox entry that expired or exhausted its attempts to dead letters."""

    id: str
    reason: str
    at: float

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.dead_letter_outbox(txn, self.id, self.reason, self.at)


@attrs.define
class DeadLetterMessage:
    """Note a message that gave up (pair it with a Transition to a terminal state)."""

    id: str
    reason: str
    at: float

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.dead_letter_message(txn, self.id, self.reason, self.at)


@attrs.define
class Redrive:
    """Put a dead letter back to work (outbox entry to its outbox, message to ACCEPTED)."""

    id: str
    at: float

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.redrive(txn, self.id, self.at)


@attrs.define
class DeleteDeadLetter:
    id: str

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.delete_dead_letter(txn, self.id) is not None


@attrs.define
class EraseRef:
    """Remove what one by-msisdn index entry names, and the entry itself even if what it
    named is already gone (so an erase always makes progress). Result: the tag if
    something was removed, else None."""

    digits: str
    tag: bytes
    id: str

    def apply(self, store: Store, txn: lmdb.Transaction) -> bytes | None:
        if self.tag == keys.TAG_MESSAGE:
            removed = store.delete_message(txn, self.id)
        elif self.tag == keys.TAG_OUTBOX:
            removed = store.remove_outbox(txn, self.id) is not None
        else:
            removed = store.delete_dead_letter(txn, self.id) is not None
        txn.delete(keys.msisdn_key(self.digits, self.tag, self.id), db=store.by_msisdn)
        return self.tag if removed else None


Op = Union[
    PutMessage,
    Transition,
    Correlate,
    DeleteMessage,
    AddOutbox,
    AckOutbox,
    RescheduleOutbox,
    DeadLetterOutbox,
    DeadLetterMessage,
    Redrive,
    DeleteDeadLetter,
    EraseRef,
]


# ---------------------------------------------------------------------------- wire form
#
# The group-commit writer runs in a process of its own (its Python work no longer shares
# the daemon's GIL), so ops cross a pipe as msgpack arrays: [code, field, ...]. The ops of
# every message's life have a compact positional form here; any other op (the HTTP edge's
# meta records, opt-outs, test ops) crosses as a pickle, which costs more but needs nothing
# from its module but to be importable in the writer process.


@attrs.define
class PutMessageFields:
    """PutMessage as the writer process receives it: the record's positional array, which is
    what the store files anyway (no record object is built on the far side)."""

    fields: list[Any]
    grows: ClassVar[bool] = True

    def apply(self, store: Store, txn: lmdb.Transaction) -> bool:
        return store.put_message_fields(txn, self.fields)


_PUT, _TRANSITION, _ADD_OUTBOX, _PICKLED = 0, 1, 2, 3
#: Ops whose fields are all msgpack values already: [code, *fields in declaration order].
_PLAIN: tuple[type, ...] = (
    Correlate, DeleteMessage, AckOutbox, RescheduleOutbox, DeadLetterOutbox, DeadLetterMessage,
    Redrive, DeleteDeadLetter, EraseRef,
)  # fmt: skip
_PLAIN_CODE = {cls: 10 + i for i, cls in enumerate(_PLAIN)}
_PLAIN_CLASS = {code: cls for cls, code in _PLAIN_CODE.items()}


def op_to_wire(op: Any) -> list[Any]:
    """The msgpack-able form of one op (see `op_from_wire`)."""
    cls = type(op)
    if cls is Transition:
        expect = op.expect
        return [
            _TRANSITION, op.id, int(op.state), op.at, op.detail, op.error, op.route, op.connector,
            op.carrier_id, op.count_attempt, op.due, None if expect is None else [int(s) for s in expect],
            [op_to_wire(o) for o in op.on_applied],
        ]  # fmt: skip
    if cls is PutMessage:
        return [_PUT, message_to_fields(op.record)]
    if cls is AddOutbox:
        return [_ADD_OUTBOX, outbox_fields(op.entry)]
    code = _PLAIN_CODE.get(cls)
    if code is not None:
        return [code, *attrs.astuple(op, recurse=False)]
    return [_PICKLED, pickle.dumps(op, protocol=pickle.HIGHEST_PROTOCOL)]


def op_from_wire(w: list[Any]) -> Any:
    """The op to apply for a wire form; raises (ValueError, KeyError, ...) for a bad one."""
    code = w[0]
    if code == _TRANSITION:  # the state stays an int: the store compares and files ints
        expect = w[11]
        return Transition(
            w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10],
            None if expect is None else frozenset(expect), tuple(op_from_wire(o) for o in w[12]),
        )  # fmt: skip
    if code == _PUT:
        return PutMessageFields(w[1])
    if code == _ADD_OUTBOX:
        return AddOutbox(fields_to_outbox(w[1]))
    if code == _PICKLED:
        return pickle.loads(w[1])
    return _PLAIN_CLASS[code](*w[1:])
