"""Erase a phone number's data (a data-subject request): messages, outbox entries, dead
letters — and the opt-out records, unless asked to keep them.

Switch-wide erase is the journal's own `retention.erase`. A tenant's admin may erase only its
own data: the same by-number index is walked, but only entries of that tenant become
`EraseRef` ops. Opt-outs are filed per tenant (core.suppression), so the tenants named are
checked one key each. Nothing else the HTTP edge stores holds a number: idempotency records
keep a hash of the request and an answer without the number, callback URLs are filed by
message id, audit records mask numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from smsswitch.core.suppression import SetOptOut, is_opted_out
from smsswitch.journal import keys, retention
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import EraseRef
from smsswitch.journal.store import iter_keys

BATCH = 500


@attrs.frozen
class Erased:
    messages: int = 0
    outbox: int = 0
    dead_letters: int = 0
    opt_outs: int = 0

    def to_json(self) -> dict[str, int]:
        return {"messages": self.messages, "outbox": self.outbox, "deadLetters": self.dead_letters,
                "optOuts": self.opt_outs}  # fmt: skip


async def erase_number(
    journal: Journal, number: str, *, tenant: str | None, opt_out_tenants: Iterable[str], keep_opt_outs: bool,
    at: float,
) -> Erased:  # fmt: skip
    """Remove `number` (E.164) from the journal: everywhere when `tenant` is None, else only
    what belongs to `tenant`. Opt-outs of `opt_out_tenants` go too unless `keep_opt_outs`."""
    if tenant is None:
        counts = await retention.erase(journal, number)
        messages, outbox, dead = counts.messages, counts.outbox, counts.dead_letters
    else:
        messages, outbox, dead = await _erase_for_tenant(journal, number, tenant)
    opt_outs = 0
    if not keep_opt_outs:
        names = list(opt_out_tenants)
        with journal.read() as txn:
            present = [n for n in names if is_opted_out(journal.store, txn, n, number)]
        if present:
            await journal.commit([SetOptOut(n, number, False, at) for n in present])
        opt_outs = len(present)
    return Erased(messages, outbox, dead, opt_outs)


async def _erase_for_tenant(journal: Journal, number: str, tenant: str) -> tuple[int, int, int]:
    digits = keys.msisdn_digits(number)
    if digits is None:
        raise ValueError("not a phone number")
    counts = {keys.TAG_MESSAGE: 0, keys.TAG_OUTBOX: 0, keys.TAG_DEAD_LETTER: 0}
    store = journal.store
    prefix = keys.msisdn_prefix(digits)
    after: bytes | None = None
    while True:
        refs: list[EraseRef] = []
        scanned = 0
        with journal.read() as txn:
            for key in iter_keys(txn, store.by_msisdn, prefix, after=after):
                scanned += 1
                after = key
                tag, entry_id = key[len(prefix) : len(prefix) + 1], key[len(prefix) + 1 :].decode()
                if _owner(store, txn, tag, entry_id) == tenant:
                    refs.append(EraseRef(digits, tag, entry_id))
                if scanned >= BATCH:
                    break
        if refs:
            for tag in await journal.commit(refs):
                if tag is not None:
                    counts[tag] += 1
        if scanned < BATCH:
            return counts[keys.TAG_MESSAGE], counts[keys.TAG_OUTBOX], counts[keys.TAG_DEAD_LETTER]


def _owner(store, txn, tag: bytes, entry_id: str) -> str | None:  # type: ignore[no-untyped-def]
    if tag == keys.TAG_MESSAGE:
        record = store.get_message(txn, entry_id)
        return None if record is None else record.tenant
    if tag == keys.TAG_OUTBOX:
        entry = store.get_outbox(txn, entry_id)
        return None if entry is None else entry.tenant
    letter = store.get_dead_letter(txn, entry_id)
    return None if letter is None else letter.tenant
