"""Shared helpers for the session tests: sample PDUs, wiring two sessions, reaching a state."""

from __future__ import annotations

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import decode_pdu
from smsswitch.smpp.events import BindRequested, RequestReceived, UnbindRequested
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.session import Role, Session, SessionState

ESME, SMSC = Role.ESME, Role.SMSC
BIND_CLASS = {
    SessionState.BOUND_TX: P.BindTransmitter,
    SessionState.BOUND_RX: P.BindReceiver,
    SessionState.BOUND_TRX: P.BindTransceiver,
}


def sample(cls: type[P.Pdu]) -> P.Pdu:
    """A small valid instance of any request class."""
    if cls is P.SubmitMulti:
        return P.SubmitMulti(dest_address=[P.SmeAddress(1, 1, "4915100000")], short_message=b"x")
    return cls()


REQUEST_CLASSES = [cls for cls in P.PDU_CLASSES.values() if not cls.is_response]


def frames_of(data: bytes) -> list[P.Pdu]:
    """Decode a byte string of whole PDUs (what a session queued) into PDU objects."""
    return [decode_pdu(frame) for frame in Framer(1 << 20).feed(data)]


def pump(a: Session, b: Session, now: float, answer: bool = True) -> tuple[list, list]:
    """Move bytes both ways until quiet; returns (events of a, events of b). With `answer`,
    plain RequestReceived (not bind/unbind) is answered ESME_ROK on the spot."""
    events_a: list = []
    events_b: list = []
    for _ in range(20):
        moved = False
        for src, dst, sink in ((a, b, events_b), (b, a, events_a)):
            data = src.data_to_send()
            if data:
                moved = True
                new = dst.receive_data(data, now)
                sink.extend(new)
                if answer:
                    for event in new:
                        if type(event) is RequestReceived:
                            dst.send_response(event.pdu, P.make_response(event.pdu))
        if not moved:
            return events_a, events_b
    raise AssertionError("sessions kept talking")


def bound_pair(
    bind_cls: type[P.Pdu] = P.BindTransceiver, now: float = 0.0, **session_options
) -> tuple[Session, Session]:
    """An ESME session and an SMSC session, bound to each other with `bind_cls`."""
    esme = Session(ESME, **session_options)
    smsc = Session(SMSC, **session_options)
    esme.send_request(bind_cls(system_id="tenant", password="secret"), now)
    _, smsc_events = pump(esme, smsc, now)
    (bind,) = smsc_events
    assert isinstance(bind, BindRequested)
    smsc.send_response(bind.pdu, P.make_response(bind.pdu, system_id="smsswitch"))
    pump(esme, smsc, now)
    assert esme.state is smsc.state is not SessionState.OPEN
    return esme, smsc


def session_in(role: Role, state: SessionState, **session_options) -> Session:
    """A session of `role` driven into `state` by real traffic with a peer (then discarded)."""
    if state in BIND_CLASS:
        esme, smsc = bound_pair(BIND_CLASS[state], **session_options)
        return esme if role is ESME else smsc
    if state is SessionState.OPEN:
        return Session(role, **session_options)
    if state is SessionState.BINDING:
        esme = Session(ESME, **session_options)
        esme.send_request(P.BindTransceiver(), 0.0)
        if role is ESME:
            esme.data_to_send()
            return esme
        smsc = Session(SMSC, **session_options)
        smsc.receive_data(esme.data_to_send(), 0.0)
        return smsc
    if state is SessionState.UNBOUND:
        esme, smsc = bound_pair(**session_options)
        # The session under test receives the unbind (it then owes unbind_resp).
        sender = smsc if role is ESME else esme
        receiver = esme if role is ESME else smsc
        sender.send_request(P.Unbind(), 0.0)
        events = receiver.receive_data(sender.data_to_send(), 0.0)
        assert isinstance(events[0], UnbindRequested)
        return receiver
    if state is SessionState.CLOSED:
        session = Session(role, **session_options)
        session.receive_data(b"", 0.0)
        return session
    raise AssertionError(state)
