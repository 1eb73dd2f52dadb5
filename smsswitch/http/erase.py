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
from smsswitch.journal import retention
from smsswitch.journal.journal import Journal

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
    counts = await retention.erase(journal, number, tenant=tenant)
    messages, outbox, dead = counts.messages, counts.outbox, counts.dead_letters
    opt_outs = 0
    if not keep_opt_outs:
        names = list(opt_out_tenants)
        with journal.read() as txn:
            present = [n for n in names if is_opted_out(journal.store, txn, n, number)]
        if present:
            await journal.commit([SetOptOut(n, number, False, at) for n in present])
        opt_outs = len(present)
    return Erased(messages, outbox, dead, opt_outs)
