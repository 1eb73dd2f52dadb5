"""From a tenant's request to our journal record, and from the record to a carrier's job.

Numbers arrive parsed (NumberInfo): a number with an E.164 form is stored and sent in it
(TON international, NPI ISDN); short codes and alphanumeric senders are kept as written
with the tenant's TON/NPI.
"""

from __future__ import annotations

from functools import lru_cache

from smsswitch.carrier.api import SubmitJob
from smsswitch.journal.records import HistoryEntry, MessageRecord, MessageState, PartInfo
from smsswitch.numbers import NumberInfo
from smsswitch.policy.autoreply import Reply
from smsswitch.server.api import BindInfo, SubmitRequest
from smsswitch.server.smpp_time import format_absolute
from smsswitch.smpp.constants import (
    ESM_CLASS_UDHI,
    REGISTERED_DELIVERY_RECEIPT_ALWAYS,
    SHORT_MESSAGE_MAX,
    Npi,
    Tag,
    Ton,
)
from smsswitch.smpp.pdu import SubmitSm


#: The `bind` of messages the switch sent itself (auto-replies to MO): no tenant bind did.
AUTO_REPLY_BIND = "autoreply"


def stored_address(info: NumberInfo, ton: int, npi: int) -> tuple[str, int, int]:
    """(address, ton, npi) as journalled and sent on."""
    if info.e164 is not None:
        return info.e164, Ton.INTERNATIONAL, Npi.ISDN
    return info.raw, ton, npi


def wire_address(address: str) -> str:
    """SMPP addresses carry no '+' (TON says international)."""
    return address[1:] if address.startswith("+") else address


def new_record(
    message_id: str,
    bind: BindInfo,
    request: SubmitRequest,
    route: str | None,
    connector: str,
    now: float,
    template: str | None = None,
) -> MessageRecord:
    """The record journalled on accept: routed, so already QUEUED (history says both).
    `template`: the approved template the policy matched the text to, if any."""
    source, source_ton, source_npi = stored_address(request.source, request.source_ton, request.source_npi)
    dest, dest_ton, dest_npi = stored_address(request.destination, request.dest_ton, request.dest_npi)
    part = request.part
    return MessageRecord(
        id=message_id,
        tenant=bind.tenant.name,
        source=source,
        destination=dest,
        created=now,
        state=MessageState.QUEUED,
        bind=bind.bind_id,
        source_ton=source_ton,
        source_npi=source_npi,
        dest_ton=dest_ton,
        dest_npi=dest_npi,
        data_coding=request.data_coding,
        esm_class=request.esm_class,
        protocol_id=request.protocol_id,
        priority=request.priority_flag,
        payload=request.payload,
        part=None if part is None else PartInfo(*part),
        registered_delivery=request.registered_delivery,
        validity=request.validity,
        schedule=request.schedule,
        route=route,
        connector=connector,
        history=_accepted_history(now, connector),
        updated=now,  # what the field's default computes, without its per-record call
        client_ref=request.client_reference,
        service_type=request.service_type,
        tlvs=tuple(request.tlvs.items()),
        template=template,
    )


@lru_cache(maxsize=64)
def _accepted_history(now: float, connector: str) -> tuple[HistoryEntry, ...]:
    """ACCEPTED then QUEUED at `now`: the same for every record of one accepted batch (one
    `now`), so built once per batch and connector; entries are frozen, sharing is safe."""
    return (HistoryEntry(MessageState.ACCEPTED, now), HistoryEntry(MessageState.QUEUED, now, connector))


def reply_record(
    message_id: str, reply: Reply, data_coding: int, payload: bytes, route: str | None, connector: str, now: float
) -> MessageRecord:
    """An automatic answer to an MO, journalled as `reply.tenant`'s MT (QUEUED like any
    accepted one). `bind` says who sent it: no tenant did, so the tenant is owed no receipt
    for it (registered_delivery 0); the carrier's receipt still ends it in the journal."""
    source, source_ton, source_npi = stored_address(reply.source.source, reply.source.ton, reply.source.npi)
    dest, dest_ton, dest_npi = stored_address(reply.destination, Ton.INTERNATIONAL, Npi.ISDN)
    return MessageRecord(
        id=message_id,
        tenant=reply.tenant,
        source=source,
        destination=dest,
        created=now,
        state=MessageState.QUEUED,
        bind=AUTO_REPLY_BIND,
        source_ton=source_ton,
        source_npi=source_npi,
        dest_ton=dest_ton,
        dest_npi=dest_npi,
        data_coding=data_coding,
        payload=payload,
        route=route,
        connector=connector,
        history=(HistoryEntry(MessageState.ACCEPTED, now, "auto-reply"), HistoryEntry(MessageState.QUEUED, now, connector)),
        template=reply.template,
    )


def submit_job(record: MessageRecord, context: object = None) -> SubmitJob:
    """The carrier's submit_sm for a record. We always ask the carrier for a receipt: it is
    how we learn the final state, whatever the tenant asked for."""
    tlvs = dict(record.tlvs)
    part = record.part
    if part is not None and not record.esm_class & ESM_CLASS_UDHI:
        # The tenant sent this part with sar TLVs (the server keeps them as `part`): the
        # carrier needs them back, or it gets unrelated SMS instead of one long message.
        tlvs[Tag.SAR_MSG_REF_NUM] = part.ref
        tlvs[Tag.SAR_TOTAL_SEGMENTS] = part.total
        tlvs[Tag.SAR_SEGMENT_SEQNUM] = part.seq
    payload = record.payload
    short_message = payload
    if len(payload) > SHORT_MESSAGE_MAX:
        tlvs[Tag.MESSAGE_PAYLOAD] = payload
        short_message = b""
    pdu = SubmitSm(
        service_type=record.service_type,
        source_addr_ton=record.source_ton,
        source_addr_npi=record.source_npi,
        source_addr=wire_address(record.source),
        dest_addr_ton=record.dest_ton,
        dest_addr_npi=record.dest_npi,
        destination_addr=wire_address(record.destination),
        esm_class=record.esm_class,
        protocol_id=record.protocol_id,
        priority_flag=record.priority,
        validity_period=format_absolute(record.validity) if record.validity else "",
        registered_delivery=REGISTERED_DELIVERY_RECEIPT_ALWAYS,
        data_coding=record.data_coding,
        short_message=short_message,
        tlvs=tlvs,
    )
    return SubmitJob(record.id, pdu, deadline=record.validity, context=context)
