"""A third-party ESME (smpplib, real TCP on 127.0.0.1) against a tiny server loop driven by our
Session: bind, submit_sm, deliver_sm back, enquire_link, unbind; and a refused bind.

The server is a plain thread with a blocking socket: the point is the session, not trio.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import smpplib.client
import smpplib.exceptions
import smpplib.smpp

from smsswitch.smpp import pdu as P
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.events import BindRequested, RequestReceived, ResponseReceived, UnbindRequested
from smsswitch.smpp.session import Role, Session, SessionState


def serve_one(listener: socket.socket, seen: list) -> None:
    """Accept one connection and drive it with a Session until it closes."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.settimeout(10)
    session = Session(Role.SMSC, enquire_link_interval=None)
    try:
        while session.state is not SessionState.CLOSED:
            data = conn.recv(65536)
            now = time.monotonic()
            for event in session.receive_data(data, now):
                seen.append(event)
                if isinstance(event, BindRequested):
                    ok = event.pdu.password == "secret"
                    status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVPASWD
                    session.send_response(event.pdu, P.make_response(event.pdu, status, system_id="smsswitch"))
                elif isinstance(event, UnbindRequested):
                    session.send_response(event.pdu, P.UnbindResp())
                elif isinstance(event, RequestReceived):
                    session.send_response(event.pdu, P.make_response(event.pdu, message_id="msg-1"))
                    if isinstance(event.pdu, P.SubmitSm):
                        mo = P.DeliverSm(source_addr=event.pdu.destination_addr,
                                         destination_addr=event.pdu.source_addr, short_message=b"pong")
                        session.send_request(mo, now)
            out = session.data_to_send()
            if out:
                conn.sendall(out)  # responses and the deliver_sm in one write
    finally:
        conn.close()


@pytest.fixture
def server():
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list = []
    thread = threading.Thread(target=serve_one, args=(listener, seen), daemon=True)
    thread.start()


    def finished() -> list:
        """The server's events, once its loop has seen the connection end."""
        thread.join(10)
        assert not thread.is_alive()
        return seen

    yield listener.getsockname()[1], finished
    listener.close()


def test_smpplib_esme_binds_submits_receives_pings_and_unbinds(server):
    port, finished = server
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    submitted, received = [], []
    client.set_message_sent_handler(lambda pdu, **_: submitted.append(pdu))
    client.set_message_received_handler(lambda pdu, **_: received.append(pdu))
    client.connect()
    try:
        bind_resp = client.bind_transceiver(system_id="tenant", password="secret")
        assert bind_resp.status == 0 and bind_resp.system_id == b"smsswitch"
        client.send_message(source_addr="4915100000", destination_addr="12345", short_message=b"ping")
        client.read_once()  # submit_sm_resp
        client.read_once()  # deliver_sm, which smpplib answers with deliver_sm_resp
        assert submitted[0].message_id == b"msg-1"
        assert received[0].short_message == b"pong"
        client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
        assert client.read_pdu().command == "enquire_link_resp"
        unbind_resp = client.unbind()
        assert unbind_resp.command == "unbind_resp" and unbind_resp.status == 0
    finally:
        client.disconnect()
    seen = finished()
    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["BindRequested", "RequestReceived", "ResponseReceived", "UnbindRequested"]
    deliver_ack = seen[2]
    assert isinstance(deliver_ack, ResponseReceived) and type(deliver_ack.response) is P.DeliverSmResp


def test_smpplib_bind_with_wrong_password_is_refused(server):
    port, finished = server
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    try:
        with pytest.raises(smpplib.exceptions.PDUError) as info:
            client.bind_transmitter(system_id="tenant", password="wrong")
        assert info.value.args[1] == CommandStatus.ESME_RINVPASWD
    finally:
        client.disconnect()
    assert [type(event).__name__ for event in finished()] == ["BindRequested", "Closed"]
