"""The benchmark's load client against a scripted SMSC on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading

from smsswitch import loadwire as wire
from smsswitch.loadclient import bind_transceiver
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import ESM_CLASS_DELIVERY_RECEIPT, Tag
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import BindTransceiverResp, DeliverSm


def _smsc(server: socket.socket) -> None:
    """Answer the bind and send two receipts in the same write (one read on the other side)."""
    conn, _ = server.accept()
    with conn:
        framer = Framer()
        while not (frames := framer.feed(conn.recv(4096))):
            pass
        bind_seq = int.from_bytes(frames[0][12:16], "big")
        receipts = []
        for seq in (7, 8):
            receipt = DeliverSm(esm_class=ESM_CLASS_DELIVERY_RECEIPT, sequence_number=seq)
            receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] = f"id{seq}"
            receipts.append(encode_pdu(receipt))
        conn.sendall(encode_pdu(BindTransceiverResp(system_id="smsc", sequence_number=bind_seq)) + b"".join(receipts))
        conn.recv(1)  # until the client closes


def test_deliver_sm_in_the_bind_resp_read_are_kept() -> None:
    """The switch sends the receipts it owes right after bind_resp; they often arrive in the
    same read. The client used to drop them (unanswered until the switch's deliver_timeout)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        thread = threading.Thread(target=_smsc, args=(server,), daemon=True)
        thread.start()
        with socket.create_connection(server.getsockname(), timeout=10) as sock:
            early = bind_transceiver(sock, Framer(), "demo", "secret")
        thread.join(timeout=10)
    assert [wire.receipted_message_id(frame) for frame in early] == ["id7", "id8"]


def _scripted_smsc(server: socket.socket, seen: list[tuple[int, int]], done: threading.Event) -> None:
    """Bind, then: submit_sm 1 accepted as "m1", submit_sm 2 refused with a generic_nack,
    an enquire_link, a receipt for m1, an unbind; records (command_id, sequence) it got back."""
    conn, _ = server.accept()
    framer = Framer()
    frames: list[bytes] = []

    def next_frame() -> bytes:
        while not frames:
            frames.extend(framer.feed(conn.recv(65536)))
        return frames.pop(0)

    with conn:
        bind = next_frame()
        conn.sendall(encode_pdu(BindTransceiverResp(system_id="smsc", sequence_number=wire.HEADER.unpack_from(bind)[3])))
        first, second = next_frame(), next_frame()
        assert wire.HEADER.unpack_from(first)[1] == wire.SUBMIT_SM
        conn.sendall(wire.response(wire.SUBMIT_SM_RESP, wire.HEADER.unpack_from(first)[3], b"m1\0")
                     + wire.response(wire.GENERIC_NACK, wire.HEADER.unpack_from(second)[3], status=0x58))
        receipt = DeliverSm(esm_class=ESM_CLASS_DELIVERY_RECEIPT, sequence_number=51)
        receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] = "m1"
        conn.sendall(wire.HEADER.pack(16, wire.ENQUIRE_LINK, 0, 50) + encode_pdu(receipt)
                     + wire.HEADER.pack(16, wire.UNBIND, 0, 52))
        for _ in range(3):
            _, command_id, _, seq = wire.HEADER.unpack_from(next_frame())
            seen.append((command_id, seq))
        done.set()
        conn.recv(1)


def test_client_counts_accepts_refusals_and_receipts_and_answers_the_smsc() -> None:
    from smsswitch.loadclient import LoadClient

    seen: list[tuple[int, int]] = []
    done = threading.Event()
    read_end, write_end = os.pipe()
    with socket.create_server(("127.0.0.1", 0)) as server:
        thread = threading.Thread(target=_scripted_smsc, args=(server, seen, done), daemon=True)
        thread.start()
        port = server.getsockname()[1]
        client = LoadClient({"port": port, "binds": 1, "window": 10, "messages": 2, "progress_interval": 0.05},
                            control_fd=read_end)
        runner = threading.Thread(target=client.run, daemon=True)
        runner.start()
        assert done.wait(10)
        os.write(write_end, b"stop\n")
        runner.join(10)
        thread.join(10)
    os.close(read_end)
    os.close(write_end)
    assert not runner.is_alive()
    c = client.c
    assert (c.sent, c.accepted, c.refused, c.receipts, c.receipt_ids) == (2, 1, {0x58: 1}, 1, ["m1"])
    assert list(c.sent_at) == ["m1"] and c.errors == []
    assert seen == [(wire.ENQUIRE_LINK_RESP, 50), (wire.DELIVER_SM_RESP, 51), (wire.UNBIND_RESP, 52)]
