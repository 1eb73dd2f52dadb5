"""Taking things out of the journal: retention purge, data-subject erase, dead-letter redrive.

All of it goes through `Journal.commit` in small batches, so the daemon's submits keep
flowing between batches (each batch is one request among the writer's others), and the
same code serves the daemon (a periodic purge task) and the CLI (under trio.run).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import attrs

from smsswitch.journal import keys
from smsswitch.journal.journal import Journal
from smsswitch.journal.ids import id_time
from smsswitch.journal.ops import DeleteDeadLetter, DeleteMessage, EraseRef, Redrive
from smsswitch.journal.records import TERMINAL_STATES, DeadLetter
from smsswitch.journal.store import iter_keys

#: Ops per commit request: small enough that other waiters in the same batch barely notice.
PURGE_BATCH = 500
#: Safety bound on batches per call; a purge that hits it just continues next time.
MAX_BATCHES = 1_000_000


@attrs.frozen
class EraseCounts:
    messages: int = 0
    outbox: int = 0
    dead_letters: int = 0

    @property
    def total(self) -> int:
        return self.messages + self.outbox + self.dead_letters


async def purge(
    journal: Journal, older_than: float, *, now: float | None = None, batch: int = PURGE_BATCH
) -> int:
    """Remove terminal messages that ended more than `older_than` seconds ago (with their
    indexes, correlations and dead letters). Returns how many were removed."""
    cutoff = (time.time() if now is None else now) - older_than
    removed = 0
    for _ in range(MAX_BATCHES):
        ids = _terminal_before(journal, cutoff, batch)
        if not ids:
            break
        results = await journal.commit([DeleteMessage(message_id) for message_id in ids])
        done = sum(1 for r in results if r)
        if not done:
            break  # only index entries without records left (see Journal.check): stop, do not spin
        removed += done
    return removed


def _terminal_before(journal: Journal, cutoff: float, limit: int) -> list[str]:
    ids: list[str] = []
    with journal.read() as txn:
        for state in sorted(TERMINAL_STATES):
            for _key, _due, message_id in journal.store.iter_state(txn, state, until=cutoff):
                ids.append(message_id)
                if len(ids) >= limit:
                    return ids
    return ids


async def purge_dead_letters(
    journal: Journal, older_than: float, *, now: float | None = None, batch: int = PURGE_BATCH
) -> int:
    """Remove dead letters that died more than `older_than` seconds ago (they hold phone
    numbers too, so retention applies to them). Returns how many were removed."""
    cutoff = (time.time() if now is None else now) - older_than
    removed = 0
    after: bytes | None = None
    for _ in range(MAX_BATCHES):
        ids: list[str] = []
        with journal.read() as txn:
            cursor = txn.cursor(db=journal.store.dead_letters)
            found = cursor.set_range(after) if after is not None else cursor.first()
            while found and len(ids) < batch:
                key = cursor.key()
                if key != after:
                    if id_time(key.decode()) > cutoff:
                        break  # ids are time-ordered and a letter dies after its id was made
                    letter = journal.store.get_dead_letter(txn, key.decode())
                    if letter is not None and letter.at <= cutoff:
                        ids.append(letter.id)
                    after = key
                found = cursor.next()
        if not ids:
            break
        removed += sum(1 for r in await journal.commit([DeleteDeadLetter(i) for i in ids]) if r)
    return removed


async def erase(
    journal: Journal, msisdn: str, *, tenant: str | None = None, batch: int = PURGE_BATCH
) -> EraseCounts:
    """Remove every message, outbox entry and dead letter of one phone number (as source or
    destination), index entries included; with `tenant`, only what belongs to that tenant (a
    tenant's own data-subject request). Returns what was removed."""
    digits = keys.msisdn_digits(msisdn)
    if digits is None:
        raise ValueError(f"not a phone number: {msisdn!r}")
    counts = {keys.TAG_MESSAGE: 0, keys.TAG_OUTBOX: 0, keys.TAG_DEAD_LETTER: 0}
    store = journal.store
    prefix = keys.msisdn_prefix(digits)
    after: bytes | None = None  # entries of other tenants stay in the index: page past them
    for _ in range(MAX_BATCHES):
        refs: list[EraseRef] = []
        scanned = 0
        with journal.read() as txn:
            for key in iter_keys(txn, store.by_msisdn, prefix, after=after):
                scanned += 1
                after = key
                tag, entry_id = key[len(prefix) : len(prefix) + 1], key[len(prefix) + 1 :].decode()
                if tenant is None or _owner(store, txn, tag, entry_id) == tenant:
                    refs.append(EraseRef(digits, tag, entry_id))
                if scanned >= batch:
                    break
        if refs:
            for tag in await journal.commit(refs):
                if tag is not None:
                    counts[tag] += 1
        if scanned < batch:
            break
    return EraseCounts(
        messages=counts[keys.TAG_MESSAGE],
        outbox=counts[keys.TAG_OUTBOX],
        dead_letters=counts[keys.TAG_DEAD_LETTER],
    )


def _owner(store, txn, tag: bytes, entry_id: str) -> str | None:  # type: ignore[no-untyped-def]
    """The tenant an indexed message, outbox entry or dead letter belongs to."""
    if tag == keys.TAG_MESSAGE:
        record = store.get_message(txn, entry_id)
        return None if record is None else record.tenant
    if tag == keys.TAG_OUTBOX:
        entry = store.get_outbox(txn, entry_id)
        return None if entry is None else entry.tenant
    letter = store.get_dead_letter(txn, entry_id)
    return None if letter is None else letter.tenant


def list_dead_letters(journal: Journal, limit: int = 1000) -> list[DeadLetter]:
    return journal.dead_letters(limit)


async def redrive(journal: Journal, letter_ids: Iterable[str], *, now: float | None = None) -> list[str]:
    """Put dead letters back to work; returns the ids that were found and redriven."""
    ids = list(letter_ids)
    at = time.time() if now is None else now
    redriven: list[str] = []
    for start in range(0, len(ids), PURGE_BATCH):
        chunk = ids[start : start + PURGE_BATCH]
        results = await journal.commit([Redrive(letter_id, at) for letter_id in chunk])
        redriven.extend(letter_id for letter_id, ok in zip(chunk, results) if ok)
    return redriven
