"""The later parts of a long MO go where its first part went.

Keyword routing reads the first word of an MO's text, and only the first part of a
concatenated MO starts with it: routed on their own text, parts 2..n of "60682 I want..."
went to whoever owns the rest of the short code, i.e. another tenant got half of a
subscriber's message. So the first part's decision is remembered under the message's
concatenation key (connector, sender, recipient, reference, total), and the later parts
follow it.

A later part that comes before its first part (a carrier with several sessions delivers
parts in any order) is answered ESME_RX_T_APPN when keywords decide for its recipient: the
carrier keeps it and delivers it again later, when the first part has usually been routed.
Refusing instead of holding it here keeps the journal's promise (a deliver_sm answered OK is
on disk). After PART_WAIT without its first part, the part is routed on its own text: a
carrier that lost the first part must not retry the others for ever. Where no keyword rule
can take the recipient's MO, every part goes the same way anyway and none waits.

Memory: at most LIMIT first-part decisions and LIMIT waiting parts, each forgotten after
REMEMBER seconds. A restart forgets them too: a later part that arrives after a restart
whose first part came before it waits PART_WAIT and is then routed on its own text.
"""

from __future__ import annotations

from collections.abc import Hashable

from smsswitch.routing.decisions import MoDecision
from smsswitch.smpp.concat import parse_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI, Tag
from smsswitch.smpp.pdu import DataSm, DeliverSm

#: Seconds a later part may be sent back to the carrier while its first part is missing.
PART_WAIT = 60.0
#: Seconds a first part's decision (or a waiting part's first refusal) is remembered.
REMEMBER = 900.0
#: At most this many decisions and this many waiting parts are remembered (oldest go first).
LIMIT = 20_000


def concat_part(pdu: DeliverSm | DataSm) -> tuple[int, int, int] | None:
    """(reference, total, sequence) of a part of a concatenated message (UDH or sar_* TLVs),
    None for a message in one piece."""
    if pdu.esm_class & ESM_CLASS_UDHI:
        body = getattr(pdu, "short_message", b"") or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
        udh, _ = parse_udh(body)
        if udh is not None and udh.concat is not None and udh.concat.total > 1:
            concat = udh.concat
            return concat.reference, concat.total, concat.sequence
    tlvs = pdu.tlvs
    total = tlvs.get(Tag.SAR_TOTAL_SEGMENTS)
    seq = tlvs.get(Tag.SAR_SEGMENT_SEQNUM)
    ref = tlvs.get(Tag.SAR_MSG_REF_NUM)
    if total is not None and seq is not None and ref is not None and total > 1 and 1 <= seq <= total:
        return ref, total, seq
    return None


class MoParts:
    """First-part decisions by concatenation key, and when each waiting later part was first
    sent back; see the module docstring."""

    def __init__(self, limit: int = LIMIT, remember: float = REMEMBER, part_wait: float = PART_WAIT) -> None:
        self.limit = limit
        self.remember = remember
        self.part_wait = part_wait
        #: key -> (when, decision); insertion order is age order.
        self._first: dict[Hashable, tuple[float, MoDecision]] = {}
        #: (key, sequence) -> when it was first sent back.
        self._waiting: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._first)

    def first_part(self, key: Hashable, decision: MoDecision, now: float) -> None:
        """Remember where the first part of `key` went."""
        first = self._first
        first.pop(key, None)
        first[key] = (now, decision)
        _trim(first, self.limit, now - self.remember, lambda value: value[0])

    def decision_for(self, key: Hashable, now: float) -> MoDecision | None:
        """Where the first part of `key` went, if it came within REMEMBER."""
        found = self._first.get(key)
        if found is None or now - found[0] > self.remember:
            return None
        return found[1]

    def may_wait(self, key: Hashable, sequence: int, now: float) -> bool:
        """True while a later part whose first part is missing may go back to the carrier
        (from its first refusal on, for PART_WAIT); False once it must be routed as it is."""
        waiting = self._waiting
        ident = (key, sequence)
        since = waiting.get(ident)
        if since is None or now - since > self.remember:
            waiting.pop(ident, None)
            waiting[ident] = now
            _trim(waiting, self.limit, now - self.remember, lambda value: value)
            return True
        if now - since < self.part_wait:
            return True
        del waiting[ident]
        return False

    def done_waiting(self, key: Hashable, sequence: int) -> None:
        self._waiting.pop((key, sequence), None)


def _trim(entries: dict, limit: int, too_old: float, when: object) -> None:
    """Drop the oldest entries: beyond `limit`, and any older than `too_old`."""
    while entries:
        oldest = next(iter(entries))
        if len(entries) <= limit and when(entries[oldest]) >= too_old:  # type: ignore[operator]
            return
        del entries[oldest]
