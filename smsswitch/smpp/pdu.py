"""SMPP 3.4 PDUs as plain attrs value classes, one per command.

Fields carry the spec's names in snake_case. Each field's wire shape (C-octet string with
its spec max size and the status that refuses it, 1-octet integer, short_message, ...) is
declared here in field metadata; `smsswitch.smpp.codec` compiles those declarations into
one tight encode and decode function per class, so this file is the single source of
truth for the layout. Classes are mutable slotted attrs classes: frozen ones are slower
to build, and the codec builds one per PDU on the hot path.

C-octet strings are `str` (latin-1, one char per octet); short_message is `bytes`.
`tlvs` maps tag -> value in wire order: known tags hold int / str / bytes per the tag's
spec type, unknown tags hold their raw value bytes and are re-encoded unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar, Union

import attrs
from attrs import define, field, frozen

from smsswitch.smpp.constants import (
    RESPONSE_BIT,
    SMPP_VERSION_34,
    CommandId,
    CommandStatus,
)

#: metadata key under which each attrs field declares its wire shape
WIRE = "smpp_wire"

S = CommandStatus


@frozen(slots=True)
class Wire:
    """How one mandatory field sits on the wire.

    kind: "cstr" (NUL-terminated, `max_size` octets including the NUL), "u8" (1 octet),
    "sm" (sm_length octet + short_message), "dests" (submit_multi number_of_dests +
    dest_address list), "unsuccess" (submit_multi_resp no_unsuccess + unsuccess_sme list).
    status: the SMPP status that refuses a bad value of this field.
    """

    kind: str
    max_size: int = 0
    status: int = S.ESME_RUNKNOWNERR


def _cstr(max_size: int, status: int) -> Any:
    return field(default="", metadata={WIRE: Wire("cstr", max_size, status)})


def _u8(default: int = 0) -> Any:
    return field(default=default, metadata={WIRE: Wire("u8")})


def _short_message() -> Any:
    return field(default=b"", metadata={WIRE: Wire("sm", 255, S.ESME_RINVMSGLEN)})


@define(slots=True)
class Pdu:
    """Common header of every PDU; command_length is computed by the codec."""

    sequence_number: int = 0
    command_status: int = 0
    tlvs: dict[int, Any] = field(factory=dict)

    command_id: ClassVar[int]
    #: True for *_resp and generic_nack
    is_response: ClassVar[bool] = False
    #: the class that answers this request, None for responses, outbind, alert_notification
    response_class: ClassVar[type[Pdu] | None] = None


# ---------------------------------------------------------------- bind / session


@define(slots=True)
class _BindRequest(Pdu):
    """The one layout SMPP 3.4 gives bind_transmitter, bind_receiver and bind_transceiver."""

    system_id: str = _cstr(16, S.ESME_RINVSYSID)
    password: str = _cstr(9, S.ESME_RINVPASWD)
    system_type: str = _cstr(13, S.ESME_RINVSYSTYP)
    interface_version: int = _u8(SMPP_VERSION_34)
    addr_ton: int = _u8()
    addr_npi: int = _u8()
    address_range: str = _cstr(41, S.ESME_RBINDFAIL)


@define(slots=True)
class _BindResponse(Pdu):
    """The one layout of the three bind_*_resp (sc_interface_version travels as a TLV)."""

    system_id: str = _cstr(16, S.ESME_RINVSYSID)


@define(slots=True)
class BindTransmitter(_BindRequest):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER


@define(slots=True)
class BindTransmitterResp(_BindResponse):
    command_id: ClassVar[int] = CommandId.BIND_TRANSMITTER_RESP


@define(slots=True)
class BindReceiver(_BindRequest):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER


@define(slots=True)
class BindReceiverResp(_BindResponse):
    command_id: ClassVar[int] = CommandId.BIND_RECEIVER_RESP


@define(slots=True)
class BindTransceiver(_BindRequest):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER


@define(slots=True)
class BindTransceiverResp(_BindResponse):
    command_id: ClassVar[int] = CommandId.BIND_TRANSCEIVER_RESP


@define(slots=True)
class Outbind(Pdu):
    command_id: ClassVar[int] = CommandId.OUTBIND
    system_id: str = _cstr(16, S.ESME_RINVSYSID)
    password: str = _cstr(9, S.ESME_RINVPASWD)


@define(slots=True)
class Unbind(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND


@define(slots=True)
class UnbindResp(Pdu):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@define(slots=True)
class EnquireLink(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@define(slots=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


@define(slots=True)
class GenericNack(Pdu):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK


# ---------------------------------------------------------------- messages


@define(slots=True)
class _ShortMessage(Pdu):
    """The one body SMPP 3.4 gives submit_sm and deliver_sm."""

    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _cstr(21, S.ESME_RINVDSTADR)
    esm_class: int = _u8()
    protocol_id: int = _u8()
    priority_flag: int = _u8()
    schedule_delivery_time: str = _cstr(17, S.ESME_RINVSCHED)
    validity_period: str = _cstr(17, S.ESME_RINVEXPIRY)
    registered_delivery: int = _u8()
    replace_if_present_flag: int = _u8()
    data_coding: int = _u8()
    sm_default_msg_id: int = _u8()
    short_message: bytes = _short_message()


@define(slots=True)
class _MessageIdResponse(Pdu):
    """The one body of submit_sm_resp and deliver_sm_resp."""

    message_id: str = _cstr(65, S.ESME_RINVMSGID)


@define(slots=True)
class SubmitSm(_ShortMessage):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@define(slots=True)
class SubmitSmResp(_MessageIdResponse):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP


@define(slots=True)
class DeliverSm(_ShortMessage):
    command_id: ClassVar[int] = CommandId.DELIVER_SM


@define(slots=True)
class DeliverSmResp(_MessageIdResponse):
    """message_id is unused (NULL) in 3.4, but some SMSCs fill it: it is accepted."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP


@frozen(slots=True)
class SmeAddress:
    """A submit_multi destination that is one SME address (dest_flag 1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@frozen(slots=True)
class DistributionList:
    """A submit_multi destination that names an SMSC distribution list (dest_flag 2)."""

    dl_name: str = ""


@frozen(slots=True)
class UnsuccessSme:
    """One failed destination in submit_multi_resp, with the status the SMSC gave it."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


Destination = Union[SmeAddress, DistributionList]


@define(slots=True)
class SubmitMulti(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)
    dest_address: list[Destination] = field(
        factory=list, metadata={WIRE: Wire("dests", 21, S.ESME_RINVDSTADR)}
    )
    esm_class: int = _u8()
    protocol_id: int = _u8()
    priority_flag: int = _u8()
    schedule_delivery_time: str = _cstr(17, S.ESME_RINVSCHED)
    validity_period: str = _cstr(17, S.ESME_RINVEXPIRY)
    registered_delivery: int = _u8()
    replace_if_present_flag: int = _u8()
    data_coding: int = _u8()
    sm_default_msg_id: int = _u8()
    short_message: bytes = _short_message()


@define(slots=True)
class SubmitMultiResp(Pdu):
    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    unsuccess_smes: list[UnsuccessSme] = field(
        factory=list, metadata={WIRE: Wire("unsuccess", 21, S.ESME_RINVDSTADR)}
    )


@define(slots=True)
class DataSm(Pdu):
    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(65, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _cstr(65, S.ESME_RINVDSTADR)
    esm_class: int = _u8()
    registered_delivery: int = _u8()
    data_coding: int = _u8()


@define(slots=True)
class DataSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = _cstr(65, S.ESME_RINVMSGID)


@define(slots=True)
class QuerySm(Pdu):
    command_id: ClassVar[int] = CommandId.QUERY_SM
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)


@define(slots=True)
class QuerySmResp(Pdu):
    command_id: ClassVar[int] = CommandId.QUERY_SM_RESP
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    final_date: str = _cstr(17, S.ESME_RQUERYFAIL)
    message_state: int = _u8()
    error_code: int = _u8()


@define(slots=True)
class CancelSm(Pdu):
    command_id: ClassVar[int] = CommandId.CANCEL_SM
    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _cstr(21, S.ESME_RINVDSTADR)


@define(slots=True)
class CancelSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.CANCEL_SM_RESP


@define(slots=True)
class ReplaceSm(Pdu):
    command_id: ClassVar[int] = CommandId.REPLACE_SM
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)
    schedule_delivery_time: str = _cstr(17, S.ESME_RINVSCHED)
    validity_period: str = _cstr(17, S.ESME_RINVEXPIRY)
    registered_delivery: int = _u8()
    sm_default_msg_id: int = _u8()
    short_message: bytes = _short_message()


@define(slots=True)
class ReplaceSmResp(Pdu):
    command_id: ClassVar[int] = CommandId.REPLACE_SM_RESP


@define(slots=True)
class AlertNotification(Pdu):
    command_id: ClassVar[int] = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(65, S.ESME_RINVSRCADR)
    esme_addr_ton: int = _u8()
    esme_addr_npi: int = _u8()
    esme_addr: str = _cstr(65, S.ESME_RINVDSTADR)


# ---------------------------------------------------------------- registry and helpers

PDU_CLASSES: dict[int, type[Pdu]] = {
    int(cls.command_id): cls
    for cls in (
        BindTransmitter, BindTransmitterResp, BindReceiver, BindReceiverResp,
        BindTransceiver, BindTransceiverResp, Outbind, Unbind, UnbindResp,
        EnquireLink, EnquireLinkResp, GenericNack, SubmitSm, SubmitSmResp,
        SubmitMulti, SubmitMultiResp, DeliverSm, DeliverSmResp, DataSm, DataSmResp,
        QuerySm, QuerySmResp, CancelSm, CancelSmResp, ReplaceSm, ReplaceSmResp,
        AlertNotification,
    )
}

for _cls in PDU_CLASSES.values():
    _cls.is_response = bool(_cls.command_id & RESPONSE_BIT)
    if not _cls.is_response:
        _cls.response_class = PDU_CLASSES.get(_cls.command_id | RESPONSE_BIT)
del _cls


def is_response(pdu_or_command_id: Pdu | type[Pdu] | int) -> bool:
    """True for *_resp and generic_nack: PDUs that answer and are never answered."""
    if isinstance(pdu_or_command_id, int):
        return bool(pdu_or_command_id & RESPONSE_BIT)
    return bool(pdu_or_command_id.command_id & RESPONSE_BIT)


def make_response(request: Pdu, status: int = CommandStatus.ESME_ROK, **fields: Any) -> Pdu:
    """The *_resp answering `request`: same sequence_number, `status`, other fields from kwargs.

    Raises ValueError for PDUs that have no response (responses, outbind, alert_notification).
    """
    response_class = request.response_class
    if response_class is None:
        raise ValueError(f"{type(request).__name__} has no response PDU")
    return response_class(
        sequence_number=request.sequence_number, command_status=int(status), **fields
    )


def make_generic_nack(sequence_number: int, status: int) -> GenericNack:
    """generic_nack for a PDU whose header or command could not be understood."""
    return GenericNack(sequence_number=sequence_number, command_status=int(status))


def wire_fields(cls: type[Pdu]) -> list[tuple[str, Wire]]:
    """The mandatory body fields of `cls` in wire order, with their wire shapes."""
    return [(f.name, f.metadata[WIRE]) for f in attrs.fields(cls) if WIRE in f.metadata]
