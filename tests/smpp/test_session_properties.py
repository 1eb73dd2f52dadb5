"""Property test: random legal, illegal and broken traffic against one session.

Invariants: the session never raises on input; our own sends raise only LocalProtocolError
(WindowFull included); outstanding <= window; every request the session processed is answered
exactly once (by the app or automatically) unless it has no response PDU or the connection
closed while the app still held it; every answer has the request's type or is generic_nack.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import RESPONSE_BIT
from smsswitch.smpp.events import NotificationReceived, RequestReceived
from smsswitch.smpp.framer import Framer, peek_header
from smsswitch.smpp.session import LocalProtocolError, Role, Session, SessionState

from tests.smpp.session_helpers import REQUEST_CLASSES, sample

PEER_SEQ_BASE = 1_000_000  # peer requests use seqs far above ours, so answers are attributable
REQUEST_IDS = [int(cls.command_id) for cls in REQUEST_CLASSES]
STATUSES = [0, 0, 0, 0x08, 0x0E, 0x45, 0x58]

op = st.one_of(
    st.tuples(st.just("req"), st.sampled_from(REQUEST_CLASSES), st.integers(0, 5)),
    st.tuples(st.just("resp"), st.integers(0, 20), st.sampled_from(STATUSES), st.booleans()),
    st.tuples(st.just("stray_resp"), st.sampled_from([cls for cls in P.PDU_CLASSES.values() if cls.is_response]), st.integers(1, 50)),
    st.tuples(st.just("malformed"), st.sampled_from(REQUEST_IDS + [0x80000004, 0x80000000]), st.binary(max_size=12), st.integers(0, 5)),
    st.tuples(st.just("unknown"), st.integers(0, 0xFFFFFFFF), st.integers(0, 5)),
    st.tuples(st.just("send"), st.sampled_from(REQUEST_CLASSES)),
    st.tuples(st.just("answer"), st.integers(0, 20), st.sampled_from(STATUSES)),
    st.tuples(st.just("poll"), st.floats(0, 40)),
    st.tuples(st.just("eof")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    role=st.sampled_from(list(Role)),
    auto_enquire=st.booleans(),
    peer_window=st.sampled_from([None, 2]),
    ops=st.lists(op, max_size=60),
    garbage=st.one_of(st.none(), st.binary(min_size=4, max_size=20)),
    prebind=st.sampled_from([None, P.BindTransmitter, P.BindReceiver, P.BindTransceiver]),
)
def test_random_traffic_keeps_invariants(role, auto_enquire, peer_window, ops, garbage, prebind):
    session = Session(
        role, window=3, response_timeout=30.0, enquire_link_interval=20.0, idle_timeout=50.0,
        auto_enquire_link_resp=auto_enquire, peer_window=peer_window,
    )
    now = 0.0
    output = bytearray()
    sent: dict[int, P.Pdu] = {}  # our requests by sequence number
    pending: list[P.Pdu] = []  # peer requests the app holds
    owed: Counter = Counter()  # peer seq -> answers owed

    def feed(frame: bytes, is_request: bool) -> None:
        was_closed = session.state is SessionState.CLOSED
        events = session.receive_data(frame, now)
        if was_closed:
            assert events == []
            return
        held = [e for e in events if isinstance(e, RequestReceived)]
        pending.extend(e.pdu for e in held)
        if is_request and not any(isinstance(e, NotificationReceived) for e in events):
            owed[peek_header(frame)[3]] += 1
        if session.state is SessionState.CLOSED:
            forgive_pending()

    def forgive_pending() -> None:
        for request in pending:  # the connection closed while the app still held them
            owed[request.sequence_number] -= 1
        pending.clear()

    if prebind is not None:  # most interesting traffic needs a bound session first
        bind = prebind(sequence_number=PEER_SEQ_BASE + 9)
        if role is Role.ESME:
            sent[session.send_request(bind, now)] = bind
            session.receive_data(encode_pdu(P.make_response(bind)), now)
        else:
            (bind_event,) = session.receive_data(encode_pdu(bind), now)
            session.send_response(bind_event.pdu, P.make_response(bind_event.pdu))
            owed[bind.sequence_number] += 1
        assert session.is_bound
        output += session.data_to_send()

    for item in ops:
        kind = item[0]
        if kind == "req":
            request = sample(item[1])
            request.sequence_number = PEER_SEQ_BASE + item[2]
            feed(encode_pdu(request), True)
        elif kind == "resp" and sent:
            seq = list(sent)[item[1] % len(sent)]
            request = sent[seq]
            response = P.GenericNack(sequence_number=seq, command_status=item[2] or 8) if item[3] \
                else P.make_response(request, item[2])
            feed(encode_pdu(response), False)
        elif kind == "stray_resp":
            feed(encode_pdu(item[1](sequence_number=item[2])), False)
        elif kind == "malformed":
            command_id, body, offset = item[1], item[2], item[3]
            seq = PEER_SEQ_BASE + offset if not command_id & RESPONSE_BIT else 1 + offset
            frame = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big")
            feed(frame + bytes(4) + seq.to_bytes(4, "big") + body, not command_id & RESPONSE_BIT)
        elif kind == "unknown":
            command_id = item[1]
            if command_id in P.PDU_CLASSES:
                continue
            frame = (16).to_bytes(4, "big") + command_id.to_bytes(4, "big") + bytes(4)
            # unknown ids are nacked whether or not they carry the response bit
            feed(frame + (PEER_SEQ_BASE + item[2]).to_bytes(4, "big"), True)
        elif kind == "send":
            request = sample(item[1])
            try:
                seq = session.send_request(request, now)
            except LocalProtocolError:
                pass
            else:
                if request.response_class is not None:
                    sent[seq] = request
        elif kind == "answer" and pending:
            request = pending.pop(item[1] % len(pending))
            response = P.make_response(request, item[2])
            session.send_response(request, response)
            if session.state is SessionState.CLOSED:
                forgive_pending()
        elif kind == "poll":
            now += item[1]
            session.poll(now)
            if session.state is SessionState.CLOSED:
                forgive_pending()
        elif kind == "eof":
            feed(b"", False)
        assert session.outstanding <= session.window
        event(f"visited {session.state.value}")
        output += session.data_to_send()

    while pending and session.state is not SessionState.CLOSED:
        request = pending.pop(0)
        session.send_response(request, P.make_response(request))
    forgive_pending()  # left over only if an unbind_resp closed the session first
    output += session.data_to_send()
    if garbage is not None and session.state is not SessionState.CLOSED:
        session.receive_data(b"\x00\x00\x00\x01" + garbage, now)  # command_length 1: fatal
        assert session.state is SessionState.CLOSED

    answers: Counter = Counter()
    for frame in Framer(1 << 20).feed(bytes(output)):
        _, command_id, _, seq = peek_header(frame)
        if seq >= PEER_SEQ_BASE:
            assert command_id & RESPONSE_BIT
            answers[seq] += 1
    assert answers == +owed  # exactly once each (unary + drops zero counts)
    assert all(v >= 0 for v in owed.values())


def test_next_deadline_never_lags_after_poll():
    """After poll(now), next_deadline() is in the future: an I/O loop cannot spin."""
    session = Session(Role.ESME, window=2, response_timeout=5.0, enquire_link_interval=3.0, idle_timeout=4.0)
    session.send_request(P.BindTransceiver(), 0.0)
    session.receive_data(encode_pdu(P.BindTransceiverResp(sequence_number=1)), 0.0)
    now = 0.0
    for _ in range(200):
        deadline = session.next_deadline()
        if deadline is None:
            break
        now = max(now, deadline)
        for event in session.poll(now):
            if type(event).__name__ == "EnquireLinkDue" and session.window_free:
                session.send_enquire_link(now)
        after = session.next_deadline()
        assert after is None or after > now
