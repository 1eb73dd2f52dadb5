"""The LMDB environment, its named sub-databases, and the synchronous operations on them.

Every write function takes an open write transaction, so that the group-commit writer can
apply thousands of them in one durable commit; every read function takes any transaction.
Nothing here starts threads, sleeps or logs: callers decide when to commit and what to say.

Sub-databases (keys in keys.py):
  messages          id -> MessageRecord (msgpack array)
  state.<n>         one per MessageState: due|id -> b"" (what to send next, what expires when,
                    when it ended); a per-state database makes counts O(1) (its entry count)
  by_tenant         tenant NUL id -> b""
  by_msisdn         digits NUL tag id -> b""   (messages, outbox entries, dead letters)
  correlation       connector NUL carrier-id-form -> P|V + our id
  outbox            id -> OutboxEntry
  outbox_by_tenant  tenant NUL id -> b""   (ids are time-ordered: oldest first)
  dead_letters      id -> DeadLetter
  meta              name -> value (schema version, creation time)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import lmdb

from smsswitch.journal import keys
from smsswitch.smpp.receipt import carrier_id_variants
from smsswitch.journal.records import (
    M_CARRIER_ID,
    M_CONNECTOR,
    M_DESTINATION,
    M_DUE,
    M_ERROR,
    M_HISTORY,
    M_ID,
    M_PREVIOUS_CARRIERS,
    M_ROUTE,
    M_SCHEDULE,
    M_SOURCE,
    M_STATE,
    M_TENANT,
    M_UPDATED,
    M_VALIDITY,
    M_ATTEMPTS,
    MAX_PREVIOUS_CARRIERS,
    SCHEMA_VERSION,
    DeadLetter,
    DeadLetterKind,
    MessageRecord,
    MessageState,
    OutboxEntry,
    append_history,
    decode_dead_letter,
    decode_message,
    decode_message_fields,
    decode_outbox,
    default_due,
    encode_dead_letter,
    message_to_fields,
    new_packer,
    outbox_fields,
    pack,
    unpack,
    O_ID,
    O_MSISDN,
    O_TENANT,
)

MAX_DBS = 32
_STATES = tuple(MessageState)
_FIRST_TERMINAL = int(MessageState.DELIVERED)
assert all(s.terminal == (s >= _FIRST_TERMINAL) for s in _STATES)


def open_env(
    path: str | os.PathLike[str], *, map_size: int, readonly: bool = False, sync: bool = True
) -> lmdb.Environment:
    """Open (creating unless read-only) the journal directory. sync=True makes every commit
    an fsync of data and meta pages: what commit() returned is on disk."""
    if not readonly:
        Path(path).mkdir(parents=True, exist_ok=True)
    return lmdb.open(
        os.fspath(path),
        map_size=map_size,
        subdir=True,
        readonly=readonly,
        create=not readonly,
        max_dbs=MAX_DBS,
        sync=sync,
        metasync=sync,
        readahead=False,
        meminit=False,
        max_readers=512,
        lock=True,
    )


class Store:
    """Handles to the sub-databases of one environment, and the operations on them."""

    def __init__(self, env: lmdb.Environment, *, readonly: bool = False) -> None:
        create = not readonly
        self.env = env
        self.readonly = readonly

        def db(name: bytes) -> Any:
            return env.open_db(name, create=create)

        self.messages = db(b"messages")
        self.by_state = {s: db(b"state.%d" % s) for s in _STATES}
        #: by_state indexed by the int state as stored in a record (no enum on the hot path).
        self._state_dbs = [None] * (max(_STATES) + 1)
        for state, handle in self.by_state.items():
            self._state_dbs[state] = handle
        #: Writes run under LMDB's write lock, one at a time: one packer serves them all.
        self._pack = new_packer()
        self.by_tenant = db(b"by_tenant")
        self.by_msisdn = db(b"by_msisdn")
        self.correlation = db(b"correlation")
        self.outbox = db(b"outbox")
        self.outbox_by_tenant = db(b"outbox_by_tenant")
        self.dead_letters = db(b"dead_letters")
        self.meta = db(b"meta")
        if not readonly:
            with env.begin(write=True) as txn:
                if txn.get(b"schema", db=self.meta) is None:
                    txn.put(b"schema", pack(SCHEMA_VERSION), db=self.meta)
                    txn.put(b"created", pack(time.time()), db=self.meta)

    # ----------------------------------------------------------------- messages (writes)

    def put_message(self, txn: lmdb.Transaction, record: MessageRecord) -> bool:
        """Store a message with all its index entries; replaces one with the same id.
        Returns True when the id was new."""
        return self.put_message_fields(txn, message_to_fields(record))

    def put_message_fields(self, txn: lmdb.Transaction, f: list[Any]) -> bool:
        key = f[M_ID].encode()
        if not f[M_HISTORY]:
            f[M_HISTORY].append([f[M_STATE], f[M_UPDATED], None])
        value = self._pack(f)
        new = txn.put(key, value, db=self.messages, overwrite=False)  # one B-tree walk when new
        if not new:
            self._unindex_message(txn, decode_message_fields(txn.get(key, db=self.messages)))
            txn.put(key, value, db=self.messages)
        self._index_message(txn, f)
        return new

    def transition(
        self,
        txn: lmdb.Transaction,
        message_id: str,
        state: MessageState,
        at: float,
        *,
        detail: str | None = None,
        error: int | None = None,
        route: str | None = None,
        connector: str | None = None,
        carrier_id: str | None = None,
        count_attempt: bool = False,
        due: float | None = None,
        expect: frozenset[MessageState] | None = None,
        force: bool = False,
    ) -> bool:
        """Move a message to `state`, recording why and when. Returns False (and changes
        nothing) when the message is unknown, already terminal, or not in `expect` - so a
        duplicate or late receipt cannot undo a final state. `force` is for redrive only."""
        return self.transition_positional(
            txn, message_id, state, at, detail, error, route, connector, carrier_id, count_attempt, due, expect, force
        )

    def transition_positional(
        self, txn: lmdb.Transaction, message_id: str, state: int, at: float, detail: str | None,
        error: int | None, route: str | None, connector: str | None, carrier_id: str | None,
        count_attempt: bool, due: float | None, expect: frozenset[MessageState] | None, force: bool,
    ) -> bool:  # fmt: skip
        """`transition` without keyword parsing: the writer applies three per message."""
        key = message_id.encode()
        raw = txn.get(key, db=self.messages)
        if raw is None:
            return False
        f = decode_message_fields(raw)
        old_state = f[M_STATE]  # an int; IntEnum members hash and compare equal to it
        if not force and (old_state >= _FIRST_TERMINAL or (expect is not None and old_state not in expect)):
            return False
        state_dbs = self._state_dbs
        txn.delete(keys.due_prefix(f[M_DUE]) + key, db=state_dbs[old_state])
        state = int(state)
        f[M_STATE] = state
        f[M_UPDATED] = at
        append_history(f[M_HISTORY], state, at, detail)
        if error is not None:
            f[M_ERROR] = error
        if route is not None:
            f[M_ROUTE] = route
        if count_attempt:
            f[M_ATTEMPTS] += 1
        if carrier_id is not None:
            self._set_carrier(txn, f, connector or f[M_CONNECTOR] or "", carrier_id)
        elif connector is not None:
            if f[M_CARRIER_ID] is not None and connector != f[M_CONNECTOR]:
                self._retire_carrier(txn, f)  # its id belongs to the connector it leaves
            f[M_CONNECTOR] = connector
        f[M_DUE] = due = due if due is not None else default_due(state, at, f[M_SCHEDULE], f[M_VALIDITY])
        txn.put(keys.due_prefix(due) + key, b"", db=state_dbs[state])
        txn.put(key, self._pack(f), db=self.messages)
        return True

    def correlate(self, txn: lmdb.Transaction, message_id: str, connector: str, carrier_id: str) -> bool:
        """Record the carrier's id for a message (without a state change)."""
        key = message_id.encode()
        raw = txn.get(key, db=self.messages)
        if raw is None:
            return False
        f = decode_message_fields(raw)
        self._set_carrier(txn, f, connector, carrier_id)
        txn.put(key, self._pack(f), db=self.messages)
        return True

    def delete_message(self, txn: lmdb.Transaction, message_id: str) -> bool:
        """Remove a message, every index entry naming it and its dead letter, if any."""
        key = message_id.encode()
        raw = txn.get(key, db=self.messages)
        if raw is None:
            return False
        self._unindex_message(txn, decode_message_fields(raw))
        txn.delete(key, db=self.messages)
        self.delete_dead_letter(txn, message_id)  # with the letter's own index entries
        return True

    def _set_carrier(self, txn: lmdb.Transaction, f: list[Any], connector: str, carrier_id: str) -> None:
        old = (f[M_CONNECTOR], f[M_CARRIER_ID])
        if old[1] is not None and old != (connector, carrier_id):
            self._retire_carrier(txn, f)
        f[M_CONNECTOR] = connector
        f[M_CARRIER_ID] = carrier_id
        self._write_correlation(txn, connector, carrier_id, f[M_ID])

    def _retire_carrier(self, txn: lmdb.Transaction, f: list[Any]) -> None:
        """Keep the current (connector, carrier id) among the earlier ones: a late receipt for
        that submission still finds the message, and deleting the message finds the entry."""
        old = [f[M_CONNECTOR] or "", f[M_CARRIER_ID]]
        previous = f[M_PREVIOUS_CARRIERS]
        if old not in previous:
            previous.append(old)
        while len(previous) > MAX_PREVIOUS_CARRIERS:
            dropped = previous.pop(0)
            self._delete_correlation(txn, dropped[0], dropped[1], f[M_ID])
        f[M_CARRIER_ID] = None

    def _index_message(self, txn: lmdb.Transaction, f: list[Any]) -> None:
        message_id = f[M_ID]
        txn.put(keys.state_key(f[M_DUE], message_id), b"", db=self.by_state[f[M_STATE]])
        txn.put(keys.tenant_key(f[M_TENANT], message_id), b"", db=self.by_tenant)
        for digits in _message_numbers(f):
            txn.put(keys.msisdn_key(digits, keys.TAG_MESSAGE, message_id), b"", db=self.by_msisdn)
        if f[M_CARRIER_ID] is not None:
            self._write_correlation(txn, f[M_CONNECTOR] or "", f[M_CARRIER_ID], message_id)
        for connector, carrier_id in f[M_PREVIOUS_CARRIERS]:
            self._write_correlation(txn, connector, carrier_id, message_id)

    def _unindex_message(self, txn: lmdb.Transaction, f: list[Any]) -> None:
        message_id = f[M_ID]
        txn.delete(keys.state_key(f[M_DUE], message_id), db=self.by_state[f[M_STATE]])
        txn.delete(keys.tenant_key(f[M_TENANT], message_id), db=self.by_tenant)
        for digits in _message_numbers(f):
            txn.delete(keys.msisdn_key(digits, keys.TAG_MESSAGE, message_id), db=self.by_msisdn)
        if f[M_CARRIER_ID] is not None:
            self._delete_correlation(txn, f[M_CONNECTOR] or "", f[M_CARRIER_ID], message_id)
        for connector, carrier_id in f[M_PREVIOUS_CARRIERS]:
            self._delete_correlation(txn, connector, carrier_id, message_id)

    # ------------------------------------------------------------------ correlation

    def _write_correlation(self, txn: lmdb.Transaction, connector: str, carrier_id: str, message_id: str) -> None:
        """File the carrier id under its canonical form only. find_correlation tries every
        form of the id the receipt shows (its hex and decimal readings), and one of them is
        this form whenever the two ids name one number; one put per message instead of a
        put plus a get and put for each variant."""
        forms = carrier_id_variants(carrier_id)
        if forms:
            txn.put(keys.correlation_key(connector, forms[0]), keys.CORR_PRIMARY + message_id.encode(), db=self.correlation)

    def _delete_correlation(self, txn: lmdb.Transaction, connector: str, carrier_id: str, message_id: str) -> None:
        """Every form, not just the canonical one: journals written before one-key filing
        hold variant entries (CORR_VARIANT) too."""
        ours = message_id.encode()
        for form in carrier_id_variants(carrier_id):
            key = keys.correlation_key(connector, form)
            current = txn.get(key, db=self.correlation)
            if current is not None and current[1:] == ours:
                txn.delete(key, db=self.correlation)

    def find_correlation(self, txn: lmdb.Transaction, connector: str, carrier_id: str) -> str | None:
        """Our id for a carrier's id as it appears in a receipt (hex or decimal, any case).
        A carrier id reused on one connector names the newest message that got it."""
        for form in carrier_id_variants(carrier_id):
            value = txn.get(keys.correlation_key(connector, form), db=self.correlation)
            if value is not None:
                return value[1:].decode()
        return None

    # ------------------------------------------------------------------ outbox

    def add_outbox(self, txn: lmdb.Transaction, entry: OutboxEntry) -> bool:
        """Owe `entry` to its tenant. Replaces an entry with the same id; True when new."""
        key = entry.id.encode()
        value = self._pack(outbox_fields(entry))
        new = txn.put(key, value, db=self.outbox, overwrite=False)  # one B-tree walk when new
        if not new:
            f = unpack(txn.get(key, db=self.outbox))
            self._unindex_outbox_fields(txn, f[O_ID], f[O_TENANT], _outbox_msisdn(f))
            txn.put(key, value, db=self.outbox)
        self._index_outbox_fields(txn, entry.id, entry.tenant, entry.msisdn)
        return new

    def remove_outbox(self, txn: lmdb.Transaction, entry_id: str) -> OutboxEntry | None:
        """Drop an entry (the tenant acknowledged it, or it is being erased or dead-lettered)."""
        key = entry_id.encode()
        raw = txn.get(key, db=self.outbox)
        if raw is None:
            return None
        entry = decode_outbox(raw)
        self._unindex_outbox(txn, entry)
        txn.delete(key, db=self.outbox)
        return entry

    def discard_outbox(self, txn: lmdb.Transaction, entry_id: str) -> bool:
        """remove_outbox for callers that only need to know it was there (the tenant's ack,
        once per receipt): reads the index fields without building the entry."""
        key = entry_id.encode()
        raw = txn.get(key, db=self.outbox)
        if raw is None:
            return False
        f = unpack(raw)
        self._unindex_outbox_fields(txn, f[O_ID], f[O_TENANT], _outbox_msisdn(f))
        txn.delete(key, db=self.outbox)
        return True

    def reschedule_outbox(
        self, txn: lmdb.Transaction, entry_id: str, next_attempt: float, attempts_delta: int = 1
    ) -> bool:
        """Remember a failed delivery attempt and when to try again."""
        key = entry_id.encode()
        raw = txn.get(key, db=self.outbox)
        if raw is None:
            return False
        entry = decode_outbox(raw)
        entry = attrs.evolve(entry, attempts=entry.attempts + attempts_delta, next_attempt=next_attempt)
        txn.put(key, self._pack(outbox_fields(entry)), db=self.outbox)
        return True

    def _unindex_outbox(self, txn: lmdb.Transaction, entry: OutboxEntry) -> None:
        self._unindex_outbox_fields(txn, entry.id, entry.tenant, entry.msisdn)

    def _index_outbox_fields(self, txn: lmdb.Transaction, entry_id: str, tenant: str, msisdn: str | None) -> None:
        txn.put(keys.tenant_key(tenant, entry_id), b"", db=self.outbox_by_tenant)
        digits = keys.msisdn_digits(msisdn)
        if digits:
            txn.put(keys.msisdn_key(digits, keys.TAG_OUTBOX, entry_id), b"", db=self.by_msisdn)

    def _unindex_outbox_fields(self, txn: lmdb.Transaction, entry_id: str, tenant: str, msisdn: str | None) -> None:
        txn.delete(keys.tenant_key(tenant, entry_id), db=self.outbox_by_tenant)
        digits = keys.msisdn_digits(msisdn)
        if digits:
            txn.delete(keys.msisdn_key(digits, keys.TAG_OUTBOX, entry_id), db=self.by_msisdn)

    # ------------------------------------------------------------------ dead letters

    def dead_letter_outbox(self, txn: lmdb.Transaction, entry_id: str, reason: str, at: float) -> bool:
        """Move an outbox entry that expired or exhausted its attempts to the dead letters."""
        entry = self.remove_outbox(txn, entry_id)
        if entry is None:
            return False
        letter = DeadLetter(
            id=entry.id,
            kind=DeadLetterKind.OUTBOX,
            reason=reason,
            at=at,
            entry=entry,
            message_id=entry.message_id,
            tenant=entry.tenant,
            msisdn=entry.msisdn,
        )
        self._put_dead_letter(txn, letter)
        return True

    def dead_letter_message(self, txn: lmdb.Transaction, message_id: str, reason: str, at: float) -> bool:
        """Note a message that could not be sent. Its record stays (the caller moves it to a
        terminal state in the same commit); the letter is removed with the message."""
        raw = txn.get(message_id.encode(), db=self.messages)
        if raw is None:
            return False
        f = decode_message_fields(raw)
        letter = DeadLetter(
            id=message_id,
            kind=DeadLetterKind.MESSAGE,
            reason=reason,
            at=at,
            message_id=message_id,
            tenant=f[M_TENANT],
            msisdn=f[M_DESTINATION],
        )
        self._put_dead_letter(txn, letter)
        return True

    def _put_dead_letter(self, txn: lmdb.Transaction, letter: DeadLetter) -> None:
        # A letter replacing one under the same id takes its index entries with it (ids are
        # one space for messages and outbox entries, so only a hand-made op can collide).
        self.delete_dead_letter(txn, letter.id)
        txn.put(letter.id.encode(), encode_dead_letter(letter), db=self.dead_letters)
        digits = keys.msisdn_digits(letter.msisdn)
        if digits and letter.kind is DeadLetterKind.OUTBOX:
            txn.put(keys.msisdn_key(digits, keys.TAG_DEAD_LETTER, letter.id), b"", db=self.by_msisdn)

    def delete_dead_letter(self, txn: lmdb.Transaction, letter_id: str) -> DeadLetter | None:
        key = letter_id.encode()
        raw = txn.get(key, db=self.dead_letters)
        if raw is None:
            return None
        letter = decode_dead_letter(raw)
        txn.delete(key, db=self.dead_letters)
        digits = keys.msisdn_digits(letter.msisdn)
        if digits and letter.kind is DeadLetterKind.OUTBOX:
            txn.delete(keys.msisdn_key(digits, keys.TAG_DEAD_LETTER, letter.id), db=self.by_msisdn)
        return letter

    def redrive(self, txn: lmdb.Transaction, letter_id: str, at: float) -> bool:
        """Give a dead letter another go: an outbox entry goes back to its tenant's outbox
        (attempts reset, no expiry), a message goes back to ACCEPTED to be routed again."""
        letter = self.delete_dead_letter(txn, letter_id)
        if letter is None:
            return False
        if letter.kind is DeadLetterKind.OUTBOX and letter.entry is not None:
            self.add_outbox(txn, attrs.evolve(letter.entry, attempts=0, next_attempt=at, expires=None))
            return True
        return self.transition(
            txn, letter.message_id or letter_id, MessageState.ACCEPTED, at, detail="redrive", force=True
        )

    # ------------------------------------------------------------------ reads

    def get_message(self, txn: lmdb.Transaction, message_id: str) -> MessageRecord | None:
        raw = txn.get(message_id.encode(), db=self.messages)
        return None if raw is None else decode_message(raw)

    def get_outbox(self, txn: lmdb.Transaction, entry_id: str) -> OutboxEntry | None:
        raw = txn.get(entry_id.encode(), db=self.outbox)
        return None if raw is None else decode_outbox(raw)

    def get_dead_letter(self, txn: lmdb.Transaction, letter_id: str) -> DeadLetter | None:
        raw = txn.get(letter_id.encode(), db=self.dead_letters)
        return None if raw is None else decode_dead_letter(raw)

    def iter_state(
        self, txn: lmdb.Transaction, state: MessageState, *, after: bytes | None = None, until: float | None = None
    ) -> Iterator[tuple[bytes, float, str]]:
        """(index key, due, id) of messages in `state`, earliest due first; resume a scan in
        a new transaction by passing the last key as `after`; stop at due > `until`."""
        limit = None if until is None else keys.due_prefix(until) + b"\xff"
        for key in iter_keys(txn, self.by_state[state], b"", after=after):
            if limit is not None and key > limit:
                return
            due, message_id = keys.split_state_key(key)
            yield key, due, message_id

    def iter_tenant_messages(self, txn: lmdb.Transaction, tenant: str, *, after: bytes | None = None) -> Iterator[str]:
        prefix = keys.tenant_prefix(tenant)
        for key in iter_keys(txn, self.by_tenant, prefix, after=after):
            yield key[len(prefix) :].decode()

    def iter_msisdn(self, txn: lmdb.Transaction, digits: str) -> Iterator[tuple[bytes, str]]:
        """(tag, id) of everything indexed under a phone number's digits."""
        prefix = keys.msisdn_prefix(digits)
        n = len(prefix)
        for key in iter_keys(txn, self.by_msisdn, prefix):
            yield key[n : n + 1], key[n + 1 :].decode()

    def iter_outbox(self, txn: lmdb.Transaction, tenant: str | None = None) -> Iterator[OutboxEntry]:
        """Outbox entries, oldest first; only one tenant's when `tenant` is given."""
        if tenant is None:
            for _key, raw in txn.cursor(db=self.outbox):
                yield decode_outbox(raw)
            return
        prefix = keys.tenant_prefix(tenant)
        for key in iter_keys(txn, self.outbox_by_tenant, prefix):
            raw = txn.get(key[len(prefix) :], db=self.outbox)
            if raw is not None:
                yield decode_outbox(raw)

    def outbox_counts(self, txn: lmdb.Transaction) -> dict[str, int]:
        """Entries owed per tenant (reads index keys only)."""
        counts: dict[str, int] = {}
        for key, _ in txn.cursor(db=self.outbox_by_tenant):
            tenant = key[: key.index(keys.SEP)].decode()
            counts[tenant] = counts.get(tenant, 0) + 1
        return counts

    def iter_dead_letters(self, txn: lmdb.Transaction) -> Iterator[DeadLetter]:
        for _key, raw in txn.cursor(db=self.dead_letters):
            yield decode_dead_letter(raw)

    def counts(self, txn: lmdb.Transaction) -> dict[str, int]:
        """Entry counts, O(1) each (LMDB keeps them per database)."""
        out = {f"state.{s.name.lower()}": txn.stat(self.by_state[s])["entries"] for s in _STATES}
        for name in ("messages", "outbox", "dead_letters", "correlation", "by_msisdn", "by_tenant"):
            out[name] = txn.stat(getattr(self, name))["entries"]
        return out

    def live_pages(self, txn: lmdb.Transaction) -> int:
        """Pages holding data in every sub-database (freed pages excluded)."""
        dbs = [self.messages, self.by_tenant, self.by_msisdn, self.correlation, self.outbox,
               self.outbox_by_tenant, self.dead_letters, self.meta, *self.by_state.values()]  # fmt: skip
        total = 2  # the two meta pages
        for stat in [self.env.stat(), *(txn.stat(db) for db in dbs)]:
            total += stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
        return total

    def last_id(self, txn: lmdb.Transaction) -> str | None:
        """Largest id in use (messages, outbox, dead letters): the floor for new ids."""
        best: bytes | None = None
        for db in (self.messages, self.outbox, self.dead_letters):
            cur = txn.cursor(db=db)
            if cur.last():
                key = cur.key()
                if best is None or key > best:
                    best = key
        return None if best is None else best.decode()

    def meta_value(self, txn: lmdb.Transaction, name: str) -> Any:
        raw = txn.get(name.encode(), db=self.meta)
        return None if raw is None else unpack(raw)

    def check(self, txn: lmdb.Transaction) -> list[str]:
        """Every inconsistency between records and indexes (empty when sound). O(size)."""
        return list(_check(self, txn))


def iter_keys(txn: lmdb.Transaction, db: Any, prefix: bytes, *, after: bytes | None = None) -> Iterator[bytes]:
    """Keys starting with `prefix` in order, strictly after `after` when given."""
    cur = txn.cursor(db=db)
    if not cur.set_range(after if after is not None else prefix):
        return
    if after is not None and cur.key() == after and not cur.next():
        return
    while True:
        key = cur.key()
        if not key.startswith(prefix):
            return
        yield key
        if not cur.next():
            return


def _outbox_msisdn(f: list[Any]) -> str | None:
    """The msisdn of a decoded outbox array (older, shorter arrays have none)."""
    return f[O_MSISDN] if len(f) > O_MSISDN else None


def _message_numbers(f: list[Any]) -> tuple[str, ...]:
    """Digits of the destination and (when a phone number too) the source, distinct."""
    destination = keys.msisdn_digits(f[M_DESTINATION])
    source = keys.msisdn_digits(f[M_SOURCE])
    if source is None or source == destination:
        return () if destination is None else (destination,)
    return (source,) if destination is None else (destination, source)


def _check(store: Store, txn: lmdb.Transaction) -> Iterable[str]:
    states_seen: dict[MessageState, set[bytes]] = {s: set() for s in _STATES}
    tenant_keys: set[bytes] = set()
    msisdn_keys: set[bytes] = set()
    for key, raw in txn.cursor(db=store.messages):
        f = decode_message_fields(raw)
        message_id = f[M_ID]
        if key != message_id.encode():
            yield f"message key {key!r} holds id {message_id}"
        state = MessageState(f[M_STATE])
        skey = keys.state_key(f[M_DUE], message_id)
        states_seen[state].add(skey)
        if txn.get(skey, db=store.by_state[state]) is None:
            yield f"{message_id}: missing state.{state.name} index"
        tkey = keys.tenant_key(f[M_TENANT], message_id)
        tenant_keys.add(tkey)
        if txn.get(tkey, db=store.by_tenant) is None:
            yield f"{message_id}: missing tenant index"
        for digits in _message_numbers(f):
            mkey = keys.msisdn_key(digits, keys.TAG_MESSAGE, message_id)
            msisdn_keys.add(mkey)
            if txn.get(mkey, db=store.by_msisdn) is None:
                yield f"{message_id}: missing msisdn index"
    for state in _STATES:
        for key, _ in txn.cursor(db=store.by_state[state]):
            if key not in states_seen[state]:
                yield f"stale state.{state.name} entry {key!r}"
    for key, _ in txn.cursor(db=store.by_tenant):
        if key not in tenant_keys:
            yield f"stale tenant entry {key!r}"
    outbox_tenant_keys: set[bytes] = set()
    for key, raw in txn.cursor(db=store.outbox):
        entry = decode_outbox(raw)
        tkey = keys.tenant_key(entry.tenant, entry.id)
        outbox_tenant_keys.add(tkey)
        if txn.get(tkey, db=store.outbox_by_tenant) is None:
            yield f"outbox {entry.id}: missing tenant index"
        digits = keys.msisdn_digits(entry.msisdn)
        if digits:
            msisdn_keys.add(keys.msisdn_key(digits, keys.TAG_OUTBOX, entry.id))
    for key, _ in txn.cursor(db=store.outbox_by_tenant):
        if key not in outbox_tenant_keys:
            yield f"stale outbox tenant entry {key!r}"
    for key, raw in txn.cursor(db=store.dead_letters):
        letter = decode_dead_letter(raw)
        digits = keys.msisdn_digits(letter.msisdn)
        if letter.kind is DeadLetterKind.OUTBOX and digits:
            msisdn_keys.add(keys.msisdn_key(digits, keys.TAG_DEAD_LETTER, letter.id))
        if letter.kind is DeadLetterKind.MESSAGE and txn.get(key, db=store.messages) is None:
            yield f"dead letter {letter.id} names a missing message"
    for key, _ in txn.cursor(db=store.by_msisdn):
        if key not in msisdn_keys:
            yield f"stale msisdn entry {key!r}"
    for key, value in txn.cursor(db=store.correlation):
        if txn.get(value[1:], db=store.messages) is None:
            yield f"correlation {key!r} names missing message {value[1:]!r}"
