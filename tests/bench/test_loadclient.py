"""The benchmark's load client: deliver_sm that share a read with the bind_resp are answered."""

from __future__ import annotations

import trio

from smsswitch.loadclient import bind_transceiver
from smsswitch.smpp.codec import encode_pdu
from smsswitch.smpp.constants import ESM_CLASS_DELIVERY_RECEIPT, Tag
from smsswitch.smpp.events import RequestReceived
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import BindTransceiverResp, DeliverSm
from smsswitch.smpp.session import Role, Session


async def test_deliver_sm_in_the_bind_resp_read_are_kept() -> None:
    """The switch sends the receipts it owes right after bind_resp; they often arrive in the
    same read. The client used to drop them (unanswered until the switch's deliver_timeout)."""
    with trio.fail_after(10):

        async def smsc(stream: trio.SocketStream) -> None:
            framer = Framer()
            while not (frames := framer.feed(await stream.receive_some(4096))):
                pass
            bind_seq = int.from_bytes(frames[0][12:16], "big")
            receipts = []
            for seq in (7, 8):
                receipt = DeliverSm(esm_class=ESM_CLASS_DELIVERY_RECEIPT, sequence_number=seq)
                receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] = f"id{seq}"
                receipts.append(encode_pdu(receipt))
            resp = encode_pdu(BindTransceiverResp(system_id="smsc", sequence_number=bind_seq))
            await stream.send_all(resp + b"".join(receipts))  # one write: one read on the other side
            await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                lambda task_status: trio.serve_tcp(smsc, 0, host="127.0.0.1", task_status=task_status)
            )
            port = listeners[0].socket.getsockname()[1]
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            session = Session(Role.ESME, window=10, enquire_link_interval=None)
            early = await bind_transceiver(stream, session, "demo", "secret")
            receipts = [e.pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] for e in early if isinstance(e, RequestReceived)]
            assert receipts == ["id7", "id8"]
            await stream.aclose()
            nursery.cancel_scope.cancel()
