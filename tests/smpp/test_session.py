"""Session flows with two sessions wired in memory and a fake clock (plain floats)."""

from __future__ import annotations

import pytest

from smsswitch.smpp import pdu as P
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.constants import SEQUENCE_NUMBER_MAX, CommandStatus
from smsswitch.smpp.errors import PduError
from smsswitch.smpp.events import (
    BindFailed,
    BindRequested,
    Bound,
    Closed,
    EnquireLinkDue,
    EnquireLinkOverdue,
    IdleTimeout,
    NotificationReceived,
    ProtocolFatal,
    Refused,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnbindRequested,
    Unbound,
    UnexpectedResponse,
)
from smsswitch.smpp.session import LocalProtocolError, Role, Session, SessionState, WindowFull

from tests.smpp.session_helpers import bound_pair, frames_of, pump

S = CommandStatus
ST = SessionState


def submit(text: bytes = b"hello") -> P.SubmitSm:
    return P.SubmitSm(source_addr="smsswitch", destination_addr="4915100000", short_message=text)


# ---------------------------------------------------------------- bind


@pytest.mark.parametrize(
    "bind_cls, state",
    [(P.BindTransmitter, ST.BOUND_TX), (P.BindReceiver, ST.BOUND_RX), (P.BindTransceiver, ST.BOUND_TRX)],
)
def test_bind_success_on_both_sides(bind_cls, state):
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    esme.send_request(bind_cls(system_id="tenant", password="pw"), 0.0)
    assert esme.state is ST.BINDING
    _, smsc_events = pump(esme, smsc, 0.1)
    (bind,) = smsc_events
    assert type(bind) is BindRequested and bind.pdu.system_id == "tenant"
    assert smsc.state is ST.BINDING
    smsc.send_response(bind.pdu, P.make_response(bind.pdu, system_id="smsswitch"))
    assert smsc.state is state
    esme_events, _ = pump(esme, smsc, 0.2)
    assert esme_events == [Bound(state, P.make_response(bind.pdu, system_id="smsswitch"))]
    assert esme.state is state and esme.is_bound and esme.outstanding == 0


def test_bind_refused_keeps_open_and_allows_retry():
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    esme.send_request(P.BindTransceiver(system_id="tenant", password="wrong"), 0.0)
    _, (bind,) = pump(esme, smsc, 0.0)
    smsc.send_response(bind.pdu, P.make_response(bind.pdu, S.ESME_RINVPASWD))
    assert smsc.state is ST.OPEN
    (failed,), _ = pump(esme, smsc, 0.0)
    assert type(failed) is BindFailed and failed.status == S.ESME_RINVPASWD
    assert esme.state is ST.OPEN
    esme.send_request(P.BindTransceiver(system_id="tenant", password="right"), 1.0)
    _, (bind,) = pump(esme, smsc, 1.0)
    smsc.send_response(bind.pdu, P.make_response(bind.pdu))
    (bound,), _ = pump(esme, smsc, 1.0)
    assert type(bound) is Bound and esme.state is smsc.state is ST.BOUND_TRX


def test_bind_answered_by_generic_nack_fails():
    esme, smsc = Session(Role.ESME), Session(Role.SMSC)
    esme.send_request(P.BindTransmitter(), 0.0)
    _, (bind,) = pump(esme, smsc, 0.0)
    smsc.send_response(bind.pdu, P.GenericNack(command_status=S.ESME_RSYSERR))
    (failed,), _ = pump(esme, smsc, 0.0)
    assert failed == BindFailed(S.ESME_RSYSERR, P.GenericNack(sequence_number=1, command_status=S.ESME_RSYSERR))
    assert esme.state is smsc.state is ST.OPEN


def test_bind_timeout_returns_to_open():
    esme = Session(Role.ESME, response_timeout=10.0)
    bind = P.BindTransceiver()
    esme.send_request(bind, 0.0)
    assert esme.next_deadline() == 10.0
    assert esme.poll(9.0) == []
    assert esme.poll(10.0) == [RequestTimedOut(bind)]
    assert esme.state is ST.OPEN and esme.outstanding == 0


def test_outbind_then_bind_receiver():
    smsc, esme = Session(Role.SMSC), Session(Role.ESME)
    smsc.send_request(P.Outbind(system_id="smsc", password="pw"), 0.0)
    assert smsc.outstanding == 0  # outbind has no response
    (note,) = esme.receive_data(smsc.data_to_send(), 0.0)
    assert type(note) is NotificationReceived and note.pdu.system_id == "smsc"
    esme.send_request(P.BindReceiver(), 0.0)
    _, (bind,) = pump(esme, smsc, 0.0)
    smsc.send_response(bind.pdu, P.make_response(bind.pdu))
    pump(esme, smsc, 0.0)
    assert esme.state is smsc.state is ST.BOUND_RX


# ---------------------------------------------------------------- traffic


def test_submit_and_deliver_round_trip_with_latency():
    esme, smsc = bound_pair()
    request = submit()
    seq = esme.send_request(request, 1.0)
    assert esme.in_window(seq) and esme.window_free == 9
    (received,) = smsc.receive_data(esme.data_to_send(), 1.0)
    assert type(received) is RequestReceived and received.pdu == request
    smsc.send_response(received.pdu, P.make_response(received.pdu, message_id="m-1"))
    (answer,) = esme.receive_data(smsc.data_to_send(), 1.25)
    assert answer == ResponseReceived(P.SubmitSmResp(sequence_number=seq, message_id="m-1"), request, 0.25)
    assert not esme.in_window(seq)

    deliver = P.DeliverSm(source_addr="4915100000", short_message=b"mo")
    smsc.send_request(deliver, 2.0)
    (mo,) = esme.receive_data(smsc.data_to_send(), 2.0)
    esme.send_response(mo.pdu, P.make_response(mo.pdu))
    (ack,) = smsc.receive_data(esme.data_to_send(), 2.0)
    assert type(ack) is ResponseReceived and ack.request is deliver


def test_many_pdus_go_out_in_one_write_and_arrive_byte_by_byte():
    esme, smsc = bound_pair()
    for i in range(5):
        esme.send_request(submit(b"%d" % i), 0.0)
    data = esme.data_to_send()
    assert len(frames_of(data)) == 5 and esme.data_to_send() == b""
    events = []
    for i in range(len(data)):
        events += smsc.receive_data(data[i : i + 1], 0.0)
    assert [e.pdu.short_message for e in events] == [b"0", b"1", b"2", b"3", b"4"]


def test_generic_nack_with_known_sequence_resolves_request_as_failed():
    esme, smsc = bound_pair()
    request = submit()
    seq = esme.send_request(request, 0.0)
    nack = encode_pdu(P.GenericNack(sequence_number=seq, command_status=S.ESME_RSYSERR))
    (event,) = esme.receive_data(nack, 0.5)
    assert type(event) is ResponseReceived and event.request is request
    assert event.response.command_status == S.ESME_RSYSERR and esme.outstanding == 0


def test_response_to_unknown_sequence_is_dropped_and_reported():
    esme, _ = bound_pair()
    stray = encode_pdu(P.SubmitSmResp(sequence_number=4242, message_id="x"))
    assert esme.receive_data(stray, 0.0) == [UnexpectedResponse(decode_pdu(stray))]
    assert esme.data_to_send() == b""  # a response is never answered


def test_response_of_wrong_type_leaves_request_outstanding():
    esme, _ = bound_pair()
    seq = esme.send_request(submit(), 0.0)
    wrong = encode_pdu(P.QuerySmResp(sequence_number=seq))
    (event,) = esme.receive_data(wrong, 0.0)
    assert type(event) is UnexpectedResponse and esme.in_window(seq)


def test_send_response_misuse_raises_typed_errors():
    esme, smsc = bound_pair()
    esme.send_request(submit(), 0.0)
    (received,) = smsc.receive_data(esme.data_to_send(), 0.0)
    with pytest.raises(LocalProtocolError):
        smsc.send_response(received.pdu, P.DeliverSmResp())  # wrong type
    with pytest.raises(LocalProtocolError):
        smsc.send_response(submit(), P.SubmitSmResp())  # never received
    smsc.send_response(received.pdu, P.make_response(received.pdu))
    with pytest.raises(LocalProtocolError):
        smsc.send_response(received.pdu, P.make_response(received.pdu))  # answered twice
    assert len(frames_of(smsc.data_to_send())) == 1


def test_duplicate_sequence_numbers_from_peer_are_each_answered():
    _, smsc = bound_pair()
    frame = encode_pdu(P.SubmitSm(sequence_number=5, destination_addr="1"))
    first, second = smsc.receive_data(frame + frame, 0.0)
    for event in (first, second):
        smsc.send_response(event.pdu, P.make_response(event.pdu))
    assert [p.sequence_number for p in frames_of(smsc.data_to_send())] == [5, 5]


def test_peer_window_refuses_with_throttled():
    esme, smsc = bound_pair(peer_window=2)
    for _ in range(3):
        esme.send_request(submit(), 0.0)
    events = smsc.receive_data(esme.data_to_send(), 0.0)
    assert [type(e) for e in events] == [RequestReceived, RequestReceived, Refused]
    assert events[2].status == S.ESME_RTHROTTLED
    (throttled,) = frames_of(smsc.data_to_send())
    assert type(throttled) is P.SubmitSmResp and throttled.command_status == S.ESME_RTHROTTLED


def test_enquire_link_surfaced_when_auto_answer_is_off():
    esme, smsc = bound_pair(auto_enquire_link_resp=False)
    esme.send_enquire_link(0.0)
    (event,) = smsc.receive_data(esme.data_to_send(), 0.0)
    assert type(event) is RequestReceived and type(event.pdu) is P.EnquireLink
    smsc.send_response(event.pdu, P.make_response(event.pdu))
    (answer,) = esme.receive_data(smsc.data_to_send(), 0.0)
    assert type(answer) is ResponseReceived


# ---------------------------------------------------------------- sequence numbers and window


def test_sequence_numbers_wrap_to_one_never_zero():
    session = Session(Role.ESME, window=4, first_sequence_number=SEQUENCE_NUMBER_MAX - 1)
    session.send_request(P.BindTransceiver(), 0.0)  # takes MAX - 1, answered below
    session.receive_data(encode_pdu(P.BindTransceiverResp(sequence_number=SEQUENCE_NUMBER_MAX - 1)), 0.0)
    seqs = [session.send_request(submit(), 0.0) for _ in range(3)]
    assert seqs == [SEQUENCE_NUMBER_MAX, 1, 2]


def test_sequence_allocation_skips_numbers_still_outstanding():
    session, _ = bound_pair()
    first = session.send_request(submit(), 0.0)
    # Pretend the counter came all the way round (2**31 requests later) onto `first`.
    session._next_seq = first
    assert session.send_request(submit(), 0.0) == first + 1


def test_window_full_then_freed_by_response_and_by_timeout():
    esme, smsc = bound_pair(window=2, response_timeout=5.0)
    a = esme.send_request(submit(), 0.0)
    esme.send_request(submit(), 1.0)
    assert esme.window_free == 0
    with pytest.raises(WindowFull):
        esme.send_request(submit(), 1.0)
    esme.receive_data(encode_pdu(P.SubmitSmResp(sequence_number=a)), 2.0)
    assert esme.window_free == 1
    esme.send_request(submit(), 2.0)
    with pytest.raises(WindowFull):
        esme.send_enquire_link(2.0)  # keepalive counts against the window too
    assert [type(e) for e in esme.poll(6.0)] == [RequestTimedOut]
    assert esme.window_free == 1


def test_timeouts_and_deadlines_with_fake_clock():
    esme, _ = bound_pair(response_timeout=30.0, enquire_link_interval=None)
    r1, r2 = submit(b"1"), submit(b"2")
    seq1 = esme.send_request(r1, 0.0)
    esme.send_request(r2, 5.0)
    assert esme.next_deadline() == 30.0
    assert esme.poll(29.999) == []
    assert esme.poll(30.0) == [RequestTimedOut(r1)]
    assert esme.next_deadline() == 35.0
    assert esme.poll(40.0) == [RequestTimedOut(r2)]
    assert esme.next_deadline() is None
    late = encode_pdu(P.SubmitSmResp(sequence_number=seq1))
    assert [type(e) for e in esme.receive_data(late, 41.0)] == [UnexpectedResponse]


# ---------------------------------------------------------------- keepalive and idleness


def test_enquire_link_due_after_silence_and_answered_automatically():
    esme, smsc = bound_pair(enquire_link_interval=30.0)
    assert esme.next_deadline() == 30.0
    assert esme.poll(29.0) == []
    assert esme.poll(30.0) == [EnquireLinkDue()]
    assert esme.poll(31.0) == []  # once per silent interval, even if ignored
    assert esme.next_deadline() == 60.0
    esme.send_enquire_link(31.0)
    _ = pump(esme, smsc, 31.5)
    assert esme.outstanding == 0
    assert esme.next_deadline() == 61.5  # received the enquire_link_resp at 31.5


def test_traffic_postpones_enquire_link():
    esme, smsc = bound_pair(enquire_link_interval=30.0)
    esme.send_request(submit(), 20.0)
    pump(esme, smsc, 20.0)
    assert esme.poll(30.0) == []
    assert esme.poll(50.0) == [EnquireLinkDue()]


def test_enquire_link_overdue_and_no_due_signal_while_one_is_pending():
    esme = bound_pair(enquire_link_interval=10.0, response_timeout=30.0)[0]
    assert esme.poll(10.0) == [EnquireLinkDue()]
    request = P.EnquireLink()
    esme.send_request(request, 10.0)
    assert esme.poll(20.0) == []
    assert esme.next_deadline() > 20.0  # no busy loop while the keepalive is pending
    assert esme.poll(40.0) == [EnquireLinkOverdue(request)]


def test_idle_timeout_reported_once_per_silence():
    smsc = bound_pair(idle_timeout=60.0, enquire_link_interval=None)[1]
    assert smsc.next_deadline() == 60.0
    assert smsc.poll(59.0) == []
    assert smsc.poll(60.0) == [IdleTimeout(60.0)]
    assert smsc.poll(90.0) == [] and smsc.next_deadline() is None
    smsc.receive_data(encode_pdu(P.EnquireLink(sequence_number=3)), 100.0)
    assert smsc.poll(160.0) == [IdleTimeout(60.0)]


def test_no_deadline_when_nothing_is_timed():
    session = Session(Role.SMSC, enquire_link_interval=None)
    assert session.next_deadline() is None and session.poll(1e9) == []


# ---------------------------------------------------------------- unbind and close


@pytest.mark.parametrize("initiator", [Role.ESME, Role.SMSC])
def test_unbind_both_directions(initiator):
    esme, smsc = bound_pair()
    first, other = (esme, smsc) if initiator is Role.ESME else (smsc, esme)
    first.send_request(P.Unbind(), 1.0)
    assert first.state is ST.UNBOUND
    (asked,) = other.receive_data(first.data_to_send(), 1.0)
    assert type(asked) is UnbindRequested and other.state is ST.UNBOUND
    other.send_response(asked.pdu, P.make_response(asked.pdu))
    assert other.state is ST.CLOSED
    (done,) = first.receive_data(other.data_to_send(), 1.0)
    assert done == Unbound(P.UnbindResp(sequence_number=asked.pdu.sequence_number))
    assert first.state is ST.CLOSED and first.next_deadline() is None


def test_crossing_unbinds_both_get_answered():
    esme, smsc = bound_pair()
    esme.send_request(P.Unbind(), 1.0)
    smsc.send_request(P.Unbind(), 1.0)
    to_smsc, to_esme = esme.data_to_send(), smsc.data_to_send()
    (e_asked,) = esme.receive_data(to_esme, 1.0)
    (s_asked,) = smsc.receive_data(to_smsc, 1.0)
    assert type(e_asked) is type(s_asked) is UnbindRequested
    esme.send_response(e_asked.pdu, P.UnbindResp())
    smsc.send_response(s_asked.pdu, P.UnbindResp())
    assert esme.state is smsc.state is ST.CLOSED
    assert esme.drain_outstanding() == [] and smsc.drain_outstanding() == []


def test_requests_crossing_an_unbind_are_refused_but_responses_still_match():
    esme, smsc = bound_pair()
    seq = esme.send_request(submit(), 0.0)
    smsc.send_request(P.Unbind(), 0.0)
    (asked,) = esme.receive_data(smsc.data_to_send(), 0.0)
    assert type(asked) is UnbindRequested
    (refused,) = smsc.receive_data(esme.data_to_send(), 0.0)  # the submit crossed the unbind
    assert refused == Refused(P.SubmitSm.command_id, seq, S.ESME_RINVBNDSTS, False)
    (answer,) = esme.receive_data(smsc.data_to_send(), 0.0)
    assert type(answer) is ResponseReceived
    assert answer.response.command_status == S.ESME_RINVBNDSTS and not esme.in_window(seq)
    late_deliver = encode_pdu(P.DeliverSm(sequence_number=99))
    (refused,) = esme.receive_data(late_deliver, 0.0)
    assert refused == Refused(P.DeliverSm.command_id, 99, S.ESME_RINVBNDSTS, False)


def test_unbind_timeout_closes():
    esme = bound_pair(response_timeout=5.0)[0]
    esme.send_request(P.Unbind(), 0.0)
    assert [type(e) for e in esme.poll(5.0)] == [RequestTimedOut]
    assert esme.state is ST.CLOSED


def test_peer_close_reports_closed_and_drain_returns_work_only():
    esme, smsc = bound_pair()
    work = [submit(b"a"), submit(b"b")]
    for request in work:
        esme.send_request(request, 0.0)
    esme.send_enquire_link(0.0)
    assert esme.receive_data(b"", 1.0) == [Closed()]
    assert esme.state is ST.CLOSED
    assert esme.receive_data(encode_pdu(P.EnquireLink()), 1.0) == []
    assert esme.poll(1e6) == []
    assert esme.drain_outstanding() == work
    assert esme.outstanding == 0
    # Answering a request after the connection is gone is a harmless no-op.
    esme.send_response(submit(), P.SubmitSmResp())


# ---------------------------------------------------------------- bad input


def test_garbage_bytes_get_generic_nack_and_protocol_fatal():
    _, smsc = bound_pair()
    good = encode_pdu(P.SubmitSm(sequence_number=3, destination_addr="1"))
    garbage = b"\x00\x00\x00\x03GARBAGE-GARBAGE-"
    events = smsc.receive_data(good + garbage, 0.0)
    assert [type(e) for e in events] == [RequestReceived, ProtocolFatal]
    assert smsc.state is ST.CLOSED
    (nack,) = frames_of(smsc.data_to_send())
    assert type(nack) is P.GenericNack and nack.command_status == S.ESME_RINVCMDLEN
    assert smsc.receive_data(b"more", 0.0) == []


def test_oversized_command_length_is_fatal():
    _, smsc = bound_pair(max_command_length=1024)
    header = (5000).to_bytes(4, "big") + (4).to_bytes(4, "big") + bytes(4) + (8).to_bytes(4, "big")
    (fatal,) = smsc.receive_data(header, 0.0)
    assert type(fatal) is ProtocolFatal
    (nack,) = frames_of(smsc.data_to_send())
    assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDLEN, 8)


def test_undecodable_request_is_answered_with_the_codec_status():
    _, smsc = bound_pair()
    good = encode_pdu(P.SubmitSm(sequence_number=12, source_addr="1", destination_addr="2"))
    broken = good[:-6]  # cut inside the body, keep command_length honest
    broken = len(broken).to_bytes(4, "big") + broken[4:]
    with pytest.raises(PduError) as info:
        decode_pdu(broken)
    (refused,) = smsc.receive_data(broken, 0.0)
    assert refused == Refused(P.SubmitSm.command_id, 12, info.value.status, info.value.generic_nack)
    (answer,) = frames_of(smsc.data_to_send())
    assert answer.command_status == info.value.status and answer.sequence_number == 12
    assert type(answer) is (P.GenericNack if info.value.generic_nack else P.SubmitSmResp)


def test_malformed_response_gets_generic_nack_but_malformed_nack_gets_nothing():
    esme, _ = bound_pair()
    seq = esme.send_request(submit(), 0.0)
    esme.data_to_send()
    body = b"id\x00" + b"\x04\x24\x00\x64" + b"x"  # message_payload TLV overruns the body
    bad_resp = (16 + len(body)).to_bytes(4, "big") + P.SubmitSmResp.command_id.to_bytes(4, "big")
    bad_resp += bytes(4) + seq.to_bytes(4, "big") + body
    (refused,) = esme.receive_data(bad_resp, 0.0)
    assert type(refused) is Refused and refused.generic_nack and refused.answered
    (nack,) = frames_of(esme.data_to_send())
    assert type(nack) is P.GenericNack and nack.sequence_number == seq
    assert esme.in_window(seq)  # left to its timeout: we cannot tell what the peer meant
    bad_nack = (20).to_bytes(4, "big") + (0x80000000).to_bytes(4, "big") + bytes(8) + b"junk"
    (refused,) = esme.receive_data(bad_nack, 0.0)
    assert type(refused) is Refused and not refused.answered
    assert esme.data_to_send() == b""


def test_connection_that_never_binds_hits_idle_timeout_from_its_start_time():
    session = Session(Role.SMSC, idle_timeout=10.0, now=100.0)
    assert session.next_deadline() == 110.0
    assert session.poll(110.0) == [IdleTimeout(10.0)]
    assert session.state is ST.OPEN  # closing is the caller's call
