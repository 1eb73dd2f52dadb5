"""The whole legality table, both directions: every state x every request x both roles.

The expectations are written here independently of `_state_table` (from SMPP 3.4 table 2-1
and the lenient choices documented there), so a change to the table must be made twice.
"""

from __future__ import annotations

import pytest

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.events import (
    BindRequested,
    NotificationReceived,
    Refused,
    RequestReceived,
    UnbindRequested,
)
from smsswitch.smpp.session import LocalProtocolError, Role, SessionState

from tests.smpp.session_helpers import REQUEST_CLASSES, frames_of, sample, session_in

S = CommandStatus
O, B, TX, RX, TRX, U, C = (
    SessionState.OPEN, SessionState.BINDING, SessionState.BOUND_TX, SessionState.BOUND_RX,
    SessionState.BOUND_TRX, SessionState.UNBOUND, SessionState.CLOSED,
)
BOUND = {TX, RX, TRX}
LIVE = {O, B, TX, RX, TRX, U}
NONE: set = set()

#: request class -> (states in which the ESME may send it, states in which the SMSC may)
SPEC: dict[type, tuple[set, set]] = {
    P.BindTransmitter: ({O}, NONE),
    P.BindReceiver: ({O}, NONE),
    P.BindTransceiver: ({O}, NONE),
    P.Outbind: (NONE, {O}),
    P.SubmitSm: ({TX, TRX}, NONE),
    P.SubmitMulti: ({TX, TRX}, NONE),
    P.QuerySm: ({TX, TRX}, NONE),
    P.CancelSm: ({TX, TRX}, NONE),
    P.ReplaceSm: ({TX, TRX}, NONE),
    P.DeliverSm: (NONE, {RX, TRX}),
    P.AlertNotification: (NONE, {RX, TRX}),
    P.DataSm: ({TX, TRX}, {RX, TRX}),
    P.EnquireLink: (LIVE, LIVE),
    P.Unbind: (BOUND | {U}, BOUND | {U}),
}
BINDS = (P.BindTransmitter, P.BindReceiver, P.BindTransceiver)
NO_RESPONSE = (P.Outbind, P.AlertNotification)


def expected_status(cls: type, sender: Role, state: SessionState) -> int:
    esme_states, smsc_states = SPEC[cls]
    if state in (esme_states if sender is Role.ESME else smsc_states):
        return S.ESME_ROK
    if cls in BINDS and sender is Role.ESME and state in BOUND | {B}:
        return S.ESME_RALYBND
    return S.ESME_RINVBNDSTS


def test_spec_covers_every_request_class():
    assert set(SPEC) == set(REQUEST_CLASSES)


ALL = [
    pytest.param(cls, sender, state, id=f"{cls.__name__}-from-{sender.value}-{state.value}")
    for cls in SPEC
    for sender in Role
    for state in SessionState
]


@pytest.mark.parametrize("cls, sender, state", ALL)
def test_receiving(cls, sender, state):
    receiver_role = Role.SMSC if sender is Role.ESME else Role.ESME
    session = session_in(receiver_role, state)
    request = sample(cls)
    request.sequence_number = 77
    events = session.receive_data(encode_pdu(request), 1.0)
    out = frames_of(session.data_to_send())

    if state is C:
        assert events == [] and out == []
        return
    status = expected_status(cls, sender, state)
    if status != S.ESME_ROK:
        generic = cls in NO_RESPONSE
        assert events == [Refused(cls.command_id, 77, status, generic)]
        (answer,) = out
        expected_class = P.GenericNack if generic else cls.response_class
        assert type(answer) is expected_class
        assert (answer.sequence_number, answer.command_status) == (77, status)
        assert session.state is state
        return
    if cls is P.EnquireLink:  # pure protocol: answered automatically, nothing surfaced
        assert events == []
        assert out == [P.EnquireLinkResp(sequence_number=77)]
        return
    assert out == []
    (event,) = events
    assert event.pdu == request
    if cls in NO_RESPONSE:
        assert type(event) is NotificationReceived
    elif cls in BINDS:
        assert type(event) is BindRequested and session.state is B
    elif cls is P.Unbind:
        assert type(event) is UnbindRequested and session.state is U
    else:
        assert type(event) is RequestReceived and session.state is state
        assert session.unanswered == 1


@pytest.mark.parametrize("cls, sender, state", ALL)
def test_sending(cls, sender, state):
    session = session_in(sender, state)
    session.data_to_send()
    status = expected_status(cls, sender, state) if state is not C else S.ESME_RINVBNDSTS
    if status != S.ESME_ROK:
        with pytest.raises(LocalProtocolError) as info:
            session.send_request(sample(cls), 1.0)
        assert info.value.status == status
        assert session.data_to_send() == b""
        assert session.state is state
        return
    before = session.outstanding
    seq = session.send_request(sample(cls), 1.0)
    (sent,) = frames_of(session.data_to_send())
    assert type(sent) is cls and sent.sequence_number == seq
    assert session.outstanding == before + (0 if cls in NO_RESPONSE else 1)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("state", [O, TRX, U])
@pytest.mark.parametrize("command_id", [0x0000000A, 0x00000010, 0x00000104, 0x7FFFFFFF, 0x800000AA])
def test_unknown_command_id_gets_generic_nack(role, state, command_id):
    session = session_in(role, state)
    frame = (16).to_bytes(4, "big") + command_id.to_bytes(4, "big") + bytes(4) + (9).to_bytes(4, "big")
    events = session.receive_data(frame, 1.0)
    assert events == [Refused(command_id, 9, S.ESME_RINVCMDID, True)]
    assert frames_of(session.data_to_send()) == [
        P.GenericNack(sequence_number=9, command_status=S.ESME_RINVCMDID)
    ]
    assert session.state is state


def test_sending_a_response_as_request_is_refused():
    session = session_in(Role.ESME, TRX)
    with pytest.raises(LocalProtocolError) as info:
        session.send_request(P.SubmitSmResp(), 0.0)
    assert info.value.status == S.ESME_RINVCMDID
    with pytest.raises(LocalProtocolError):
        session.send_request(P.GenericNack(), 0.0)
