"""What carriers send us: delivery receipts (correlated back to our message) and MO.

One read transaction and one commit per batch the connector hands over (one socket read);
the carrier's deliver_sm is answered only after that commit. Unknown carrier ids are
parked, never refused: a carrier told "error" resends forever.

An MO that earns an automatic answer (smsswitch.core.autoreplies) gets it journalled in the
same commit as the MO itself, and handed to the connectors once that commit is durable.
The later parts of a long MO go where its first part went (smsswitch.core.mo_parts); one
that comes before its first part may be answered ESME_RX_T_APPN (the carrier retries it).

The receipts a batch owes tenants are handed to the outbox dispatcher in memory once their
commit landed (claimed before it), so it need not read them back from the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import structlog

from smsswitch.config import CarrierQuirks, DaemonConfig
from smsswitch.core.autoreplies import AutoReplies, Pending
from smsswitch.core.mo_parts import MoParts, concat_part
from smsswitch.core.owed import PARKED_TENANT, Owed
from smsswitch.core.parked import ParkedReceipt, ParkedReceipts
from smsswitch.core.receipts import CarrierReceipt, is_receipt, read_carrier_receipt
from smsswitch.core.stats import SwitchStats
from smsswitch.core.suppression import SetOptOut, subscriber_key
from smsswitch.core.views import MessageView, read_view
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import AckOutbox, AddOutbox, DeadLetterOutbox
from smsswitch.journal.records import OutboxEntry, OutboxKind
from smsswitch.numbers import NumberInfo, parse_number
from smsswitch.routing.decisions import MoDecision
from smsswitch.routing.table import RouteTable
from smsswitch.smpp.concat import parse_udh
from smsswitch.smpp.constants import (
    ESM_CLASS_REPLY_PATH,
    ESM_CLASS_UDHI,
    CommandStatus,
    DataCoding,
    Tag,
)
from smsswitch.smpp.pdu import DataSm, DeliverSm
from smsswitch.smpp.receipt import parse_receipt
from smsswitch.smpp.text import Alphabet, DataCodingError, decode_text, encode_text

if TYPE_CHECKING:
    from smsswitch.core.outbox import OutboxDispatcher

log = structlog.get_logger("smsswitch.core")

#: TLVs of an MO that mean something to the tenant and are passed on unchanged.
MO_TLVS = (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM, Tag.SOURCE_PORT,
           Tag.DESTINATION_PORT, Tag.MESSAGE_PAYLOAD, Tag.USER_MESSAGE_REFERENCE)  # fmt: skip
_DC0 = {"gsm": Alphabet.GSM, "latin1": Alphabet.LATIN1, "ascii": Alphabet.ASCII}
_OK = int(CommandStatus.ESME_ROK)
_RETRY_LATER = int(CommandStatus.ESME_RX_T_APPN)


class CarrierInbound:
    def __init__(
        self,
        config: DaemonConfig,
        journal: Journal,
        owed: Owed,
        parked: ParkedReceipts,
        routes: Callable[[], RouteTable],
        notify: Callable[[str], None],
        stats: SwitchStats,
        *,
        clock: Callable[[], float] = time.time,
        replies: AutoReplies | None = None,
        outbox: OutboxDispatcher | None = None,
    ) -> None:
        self.journal = journal
        self.owed = owed
        self.replies = replies
        #: takes receipts in memory after their commit; None: `notify` only (disk).
        self.outbox = outbox
        self.parked = parked
        self.routes = routes
        self.notify = notify
        self.stats = stats
        self.clock = clock
        self.ttl = config.journal.unmatched_receipt_ttl
        self.quirks: Mapping[str, CarrierQuirks] = {c.name: c.quirks for c in config.connectors}
        self.opt_outs_seen = False
        self.parts = MoParts()

    # ------------------------------------------------------------------ the batch

    async def deliver(self, connector: str, pdus: list[DeliverSm | DataSm]) -> list[int]:
        now = self.clock()
        quirks = self.quirks.get(connector) or CarrierQuirks()
        ops: list[Any] = []
        tenants: set[str] = set()
        newly_parked: list[ParkedReceipt] = []
        pending: list[Pending] = []  # auto-replies riding in this batch's commit
        fresh: list[tuple[int, list[OutboxEntry]]] = []  # (index of the Transition, its receipts)
        opt_out = False
        store = self.journal.store
        table: RouteTable | None = None
        statuses = [_OK] * len(pdus)
        #: (index, part) of later parts, routed after the batch's first parts (they may be among them)
        later_parts: list[tuple[int, tuple[int, int, int]]] = []
        with self.journal.read() as txn:
            for index, pdu in enumerate(pdus):
                receipt = self._receipt_of(pdu, quirks)
                if receipt is not None:
                    if receipt.state is None:
                        self.stats.receipts_in["intermediate"] += 1
                        continue
                    message_id = store.find_correlation(txn, connector, receipt.carrier_id)
                    record = None if message_id is None else read_view(store, txn, message_id)
                    if record is None:
                        parked = self._park(connector, receipt, now, ops)
                        if parked is not None:
                            newly_parked.append(parked)
                    else:
                        self._finish(record, receipt, now, ops, tenants, fresh)
                        self.stats.receipts_in["matched"] += 1
                    continue
                if is_receipt(pdu):  # says it is one, but we cannot read it
                    self.stats.receipts_in["unreadable"] += 1
                    ops += self.owed.dead(OutboxKind.RECEIPT, _raw_payload(pdu, connector), "unreadable receipt", now, None)
                    continue
                table = table or self.routes()
                part = concat_part(pdu)
                if part is not None and part[2] > 1:
                    later_parts.append((index, part))
                    continue
                opt_out |= self._mo(connector, pdu, part, quirks, table, now, ops, tenants, pending)
            for index, part in later_parts:
                assert table is not None
                routed = self._mo(connector, pdus[index], part, quirks, table, now, ops, tenants, pending)
                if routed is None:
                    statuses[index] = _RETRY_LATER
                else:
                    opt_out |= routed
        if ops:
            claimed = self.replies.claim(pending) if pending and self.replies else []
            owed = [e for _, entries in fresh for e in entries]
            if owed:
                self.outbox.claim(owed)  # type: ignore[union-attr]
            try:
                results = await self.journal.commit(ops)
            except JournalError as exc:
                if claimed:
                    self.replies.release(claimed, landed=False)  # type: ignore[union-attr]
                if owed:
                    self.outbox.hand_over(owed, ())  # type: ignore[union-attr]
                self.stats.journal_errors += 1
                log.warning("carrier.deliver_not_journalled", connector=connector, count=len(pdus), error=str(exc))
                return [_RETRY_LATER] * len(pdus)
            except BaseException:
                if claimed:  # cancelled mid-commit: it may still land; the refill pass sends them
                    self.replies.release(claimed, landed=True)  # type: ignore[union-attr]
                if owed:  # the same: the disk pager finds them if they landed
                    self.outbox.hand_over(owed, None)  # type: ignore[union-attr]
                raise
            if owed:
                # A duplicate receipt's Transition does not apply, and its receipt never lands.
                landed = {e.id for index, entries in fresh if results[index] for e in entries}
                self.outbox.hand_over(owed, landed)  # type: ignore[union-attr]
        if pending:
            self.replies.hand_over(pending)  # type: ignore[union-attr]
        self.opt_outs_seen |= opt_out
        for name in tenants:
            self.notify(name)
        if newly_parked:
            for parked in newly_parked:
                self.parked.add(parked)
            # The correlation may have landed while we were committing: look once more.
            await self.recheck(newly_parked)
        return statuses

    def _receipt_of(self, pdu: DeliverSm | DataSm, quirks: CarrierQuirks) -> CarrierReceipt | None:
        if is_receipt(pdu):
            return read_carrier_receipt(pdu, quirks)
        if quirks.receipts_in == "tlv":
            return None
        # Some carriers send receipts as plain deliver_sm: only a text with both id and stat counts.
        body = getattr(pdu, "short_message", b"") or b""
        if b"id:" not in body[:8].lower():
            return None
        parsed = parse_receipt(body)
        if parsed is None or parsed.id is None or parsed.state is None:
            return None
        return read_carrier_receipt(pdu, quirks)

    def _finish(
        self, record: MessageView, receipt: CarrierReceipt, now: float, ops: list, tenants: set,
        fresh: list[tuple[int, list[OutboxEntry]]] | None = None,
    ) -> None:
        """Owe the final state's receipt: SMPP ones go to `fresh` (handed over in memory
        after the commit) when there is a dispatcher to take them; others wake `notify`."""
        assert receipt.state is not None
        op, entries = self.owed.finish(
            record, receipt.state, now, error=receipt.error, detail=f"receipt {receipt.stat}".strip()
        )
        if entries:
            if fresh is not None and self.outbox is not None and all(e.kind is OutboxKind.RECEIPT for e in entries):
                fresh.append((len(ops), entries))
            else:
                tenants.add(record.tenant)
        ops.append(op)
        self.stats.final_states[receipt.state.name] += 1
        self.stats.end_to_end.observe(now - record.created)

    def _park(self, connector: str, receipt: CarrierReceipt, now: float, ops: list) -> ParkedReceipt | None:
        """File the receipt durably; None when memory for parked receipts is exhausted (it
        then goes straight to the dead letters, still on disk for an operator)."""
        parked = ParkedReceipt(self.owed.new_id(), connector, receipt, now)
        ops.append(AddOutbox(parked.entry(PARKED_TENANT, self.ttl)))
        if self.parked.full:
            ops.append(DeadLetterOutbox(parked.entry_id, "unmatched receipt (too many parked)", now))
            self.stats.receipts_in["unmatched"] += 1
            return None
        self.stats.receipts_in["parked"] += 1
        return parked

    # ------------------------------------------------------------------ parked receipts

    async def recheck(self, candidates: list[ParkedReceipt] | None = None, *, expire: bool = False) -> None:
        """Apply parked receipts whose correlation exists now; with `expire`, dead-letter
        those older than unmatched_receipt_ttl."""
        now = self.clock()
        items = list(self.parked.all()) if candidates is None else candidates
        if not items:
            return
        ops: list[Any] = []
        tenants: set[str] = set()
        done: list[str] = []
        store = self.journal.store
        with self.journal.read() as txn:
            for parked in items:
                message_id = store.find_correlation(txn, parked.connector, parked.receipt.carrier_id)
                record = None if message_id is None else read_view(store, txn, message_id)
                if record is not None:
                    self._finish(record, parked.receipt, now, ops, tenants)
                    ops.append(AckOutbox(parked.entry_id))
                    done.append(parked.entry_id)
                    self.stats.receipts_in["late_matched"] += 1
                elif expire and now - parked.at >= self.ttl:
                    ops.append(DeadLetterOutbox(parked.entry_id, "unmatched receipt", now))
                    done.append(parked.entry_id)
                    self.stats.receipts_in["unmatched"] += 1
        if not ops:
            return
        try:
            await self.journal.commit(ops)
        except JournalError as exc:
            log.warning("carrier.parked_not_applied", count=len(done), error=str(exc))
            return
        for entry_id in done:
            self.parked.remove(entry_id)
        for name in tenants:
            self.notify(name)

    async def apply_for(self, connector: str, carrier_ids: list[str]) -> None:
        """Correlations for these ids just became durable: apply what was parked for them."""
        if not len(self.parked):
            return
        found: list[ParkedReceipt] = []
        for carrier_id in carrier_ids:
            found.extend(self.parked.find(connector, carrier_id))
        if found:
            await self.recheck(found)

    # ------------------------------------------------------------------ MO

    def _mo(
        self, connector: str, pdu: DeliverSm | DataSm, part: tuple[int, int, int] | None, quirks: CarrierQuirks,
        table: RouteTable, now: float, ops: list, tenants: set, pending: list[Pending],
    ) -> bool | None:
        """Route one MO (and its auto-reply, if it earns one); returns True if it opted
        someone out, None if it goes back to the carrier for now (a later part waiting for
        its first part)."""
        smpp, text = _mo_payload(pdu, quirks)
        sender = parse_number(pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi)
        decision = table.route_mo(pdu.destination_addr, text, sender, connector)
        later = part is not None and part[2] > 1
        if part is not None:
            key = (connector, pdu.source_addr, pdu.destination_addr, part[0], part[1])
            if not later:
                self.parts.first_part(key, decision, now)
            else:
                followed = self._later_part(key, part[2], decision, sender, pdu.destination_addr, connector, table, now)
                if followed is None:
                    self.stats.mo_in["part_sent_back"] += 1
                    return None
                decision = followed
        subscriber = subscriber_key(sender)
        opted_out = False
        if decision.opt is not None and decision.tenant:
            opted_out = decision.opt == "out"
            ops.append(SetOptOut(decision.tenant, subscriber, opted_out, now))
            self.stats.mo_in[f"opt_{decision.opt}"] += 1
        tenant = self.owed.tenants.get(decision.tenant or "") if decision.delivered else None
        if tenant is not None:
            webhook = {
                "event": "mo", "from": subscriber, "to": pdu.destination_addr, "text": text,
                "keyword": decision.keyword, "connector": connector, "received": now,
            }  # fmt: skip
            entries = self.owed.mo(tenant, decision.via, smpp, webhook, subscriber, now)
            if entries:
                ops.extend(AddOutbox(e) for e in entries)
                tenants.add(tenant.name)
                self.stats.mo_in["delivered"] += 1
            else:  # e.g. the route says webhook but the tenant has none configured
                ops += self.owed.dead(OutboxKind.MO, smpp, f"MO: {tenant.name} has no such channel", now, subscriber)
                self.stats.mo_in["dead_letter"] += 1
        elif decision.action == "drop":
            self.stats.mo_in["dropped"] += 1
        else:
            reason = decision.reason or ("unknown tenant" if decision.delivered else "no MO route")
            ops += self.owed.dead(OutboxKind.MO, smpp, f"MO: {reason}", now, subscriber)
            self.stats.mo_in["dead_letter"] += 1
        if not later and self.replies is not None and decision.tenant and decision.tenant in self.owed.tenants:
            self.replies.answer(decision, sender, pdu.destination_addr, text, table, now, ops, pending)
        return opted_out

    def _later_part(
        self, key: tuple, sequence: int, own: MoDecision, sender: NumberInfo, to: str, connector: str, table: RouteTable,
        now: float,
    ) -> MoDecision | None:
        """Where part `sequence` (> 1) goes: with its first part; on its own text when
        keywords cannot matter or it waited long enough; None: back to the carrier for now.
        Never an opt-out/in of its own: that word was the first part's."""
        first = self.parts.decision_for(key, now)
        if first is not None:
            self.parts.done_waiting(key, sequence)
            self.stats.mo_in["part_with_first"] += 1
            return attrs.evolve(first, opt=None)
        if table.mo_keyword_decides(to, sender, connector) and self.parts.may_wait(key, sequence, now):
            return None
        return attrs.evolve(own, opt=None)


def _mo_payload(pdu: DeliverSm | DataSm, quirks: CarrierQuirks) -> tuple[dict, str]:
    """The deliver_sm fields to pass an MO on to a tenant, and its text (for routing).

    A carrier whose data_coding 0 means Latin-1/ASCII is re-encoded to what 0 means on our
    side (GSM 03.38), or to UCS2 when GSM cannot hold the text."""
    tlvs = pdu.tlvs
    body = getattr(pdu, "short_message", b"") or b""
    in_payload = not body and Tag.MESSAGE_PAYLOAD in tlvs
    if in_payload:
        body = tlvs[Tag.MESSAGE_PAYLOAD]
    udhi = bool(pdu.esm_class & ESM_CLASS_UDHI)
    header, user_data = (b"", body)
    if udhi:
        udh, user_data = parse_udh(body)
        header = body[: udh.length] if udh is not None else b""
    data_coding = pdu.data_coding
    alphabet = _DC0.get(quirks.dc0_charset, Alphabet.GSM)
    try:
        text = decode_text(user_data, data_coding, alphabet)
    except DataCodingError:
        text = ""
    if data_coding == 0 and alphabet is not Alphabet.GSM and text:
        try:
            user_data = encode_text(text, DataCoding.DEFAULT)
        except UnicodeEncodeError:
            user_data, data_coding = text.encode("utf-16-be"), DataCoding.UCS2
        body = header + user_data
    passed = [[int(tag), tlvs[tag]] for tag in MO_TLVS if tag in tlvs and tag != Tag.MESSAGE_PAYLOAD]
    payload = {
        "src": pdu.source_addr, "src_ton": pdu.source_addr_ton, "src_npi": pdu.source_addr_npi,
        "dst": pdu.destination_addr, "dst_ton": pdu.dest_addr_ton, "dst_npi": pdu.dest_addr_npi,
        "esm": pdu.esm_class & (ESM_CLASS_UDHI | ESM_CLASS_REPLY_PATH), "dc": data_coding,
        "pid": getattr(pdu, "protocol_id", 0), "service_type": pdu.service_type,
        "sm": b"" if in_payload else body, "tlvs": passed,
    }  # fmt: skip
    if in_payload:
        passed.append([int(Tag.MESSAGE_PAYLOAD), body])
    return payload, text


def _raw_payload(pdu: DeliverSm | DataSm, connector: str) -> dict:
    return {
        "connector": connector, "src": pdu.source_addr, "dst": pdu.destination_addr, "esm": pdu.esm_class,
        "sm": getattr(pdu, "short_message", b""),
    }
