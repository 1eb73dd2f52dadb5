"""Kannel (bearerbox + smsbox) as a tenant ESME bound to the running smsswitch daemon over
SMPP (transceiver), sending through Kannel's HTTP sendsms with a dlr-url, and receiving MO
through an sms-service get-url. Our HTTP receiver plays the application behind Kannel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import trio

from tests.interop.conftest import Switch
from tests.interop.daemon_harness import TENANTS
from tests.interop.http_peer import HttpReceiver
from tests.interop.kannel_box import Kannel, start_kannel
from tests.interop.peers import ProcessGroup
from tests.interop.texts import GSM_EURO_BRACKETS, UCS2_TEXT, reassemble, text_of, udh_concat

pytestmark = [pytest.mark.timeout(120), pytest.mark.peers("node", "kannel")]

DEST = "263771234567"
#: Kannel's dlr-url escapes: %d type, %F the SMSC's (our) message id, %A its reply text, %P to.
DLR_QUERY = "type=%d&id=%F&reply=%A&smsc=%i&to=%P"


@attrs.define
class KannelSetup:
    kannel: Kannel
    receiver: HttpReceiver
    switch: Switch

    def dlr_url(self, tag: str) -> str:
        return f"http://127.0.0.1:{self.receiver.port}/dlr?tag={tag}&{DLR_QUERY}"


@pytest.fixture
async def kannel(processes: ProcessGroup, switch: Switch, nursery: trio.Nursery,
                 tmp_path: Path) -> AsyncIterator[KannelSetup]:
    receiver = HttpReceiver()
    await nursery.start(receiver.serve)
    workdir = tmp_path / "kannel"
    workdir.mkdir()
    password, _ = TENANTS["kannel"]
    box = await start_kannel(processes, workdir, smpp_port=switch.port, system_id="kannel",
                             password=password, http_port=receiver.port)
    await box.wait_online()
    yield KannelSetup(box, receiver, switch)


async def test_sendsms_gsm_reaches_carrier_and_dlr_comes_back(kannel: KannelSetup) -> None:
    text = "Kannel says 5€ [promo] {ok}"
    status, body = await kannel.kannel.sendsms(**{"from": "KANNEL", "to": DEST, "text": text,
                                                  "charset": "UTF-8", "coding": 0, "dlr-mask": 31,
                                                  "dlr-url": kannel.dlr_url("gsm")})
    assert status == 202, body

    (carried,) = await kannel.switch.wait_carrier_submits(1)
    assert carried["destination_addr"] == DEST and carried["source_addr"] == "KANNEL"
    assert carried["data_coding"] == 0 and text_of(carried) == text
    assert GSM_EURO_BRACKETS.hex() in carried["short_message_hex"]
    assert carried["registered_delivery"] & 0x01

    # Kannel reports the SMSC ack (8) and the final receipt (1) for the same message id: it
    # matched our receipt to our submit_sm_resp id.
    acked, = await kannel.receiver.wait_for("/dlr", lambda r: r.query["type"] == "8", timeout=15)
    delivered, = await kannel.receiver.wait_for("/dlr", lambda r: r.query["type"] == "1", timeout=15)
    assert acked.query["tag"] == delivered.query["tag"] == "gsm"
    assert acked.query["id"] and delivered.query["id"] == acked.query["id"]
    assert "stat:DELIVRD" in delivered.query["reply"]
    assert f"id:{acked.query['id']} " in delivered.query["reply"]
    assert delivered.query["smsc"] == "under-test"


async def test_sendsms_ucs2_cyrillic_and_emoji(kannel: KannelSetup) -> None:
    status, body = await kannel.kannel.sendsms(**{"from": "KANNEL", "to": DEST, "text": UCS2_TEXT,
                                                  "charset": "UTF-8", "coding": 2})
    assert status == 202, body
    (carried,) = await kannel.switch.wait_carrier_submits(1)
    assert carried["data_coding"] == 8
    assert bytes.fromhex(carried["short_message_hex"]).decode("utf-16-be") == UCS2_TEXT


async def test_sendsms_long_message_is_concatenated(kannel: KannelSetup) -> None:
    text = "Kannel long message, " + "".join(f"part{i:03d} " for i in range(40))
    assert len(text) > 160
    status, body = await kannel.kannel.sendsms(**{"from": "KANNEL", "to": DEST, "text": text,
                                                  "charset": "UTF-8", "coding": 0, "dlr-mask": 3,
                                                  "dlr-url": kannel.dlr_url("long")})
    assert status == 202, body
    first = await kannel.switch.wait_carrier_submits(1)
    total = (udh_concat(first[0]) or (0, 1, 1))[1]
    carried = await kannel.switch.wait_carrier_submits(total)
    assert total == 3
    assert reassemble(carried) == text
    # One receipt per part comes back; Kannel folds its split parts into one final report.
    (delivered,) = await kannel.receiver.wait_for("/dlr", lambda r: r.query["type"] == "1", timeout=15)
    assert delivered.query["tag"] == "long" and "stat:DELIVRD" in delivered.query["reply"]


async def test_sendsms_long_ucs2_is_concatenated(kannel: KannelSetup) -> None:
    text = UCS2_TEXT + " " + "Длинное сообщение 😀 " * 6
    assert len(text.encode("utf-16-be")) > 140
    status, body = await kannel.kannel.sendsms(**{"from": "KANNEL", "to": DEST, "text": text,
                                                  "charset": "UTF-8", "coding": 2})
    assert status == 202, body
    first = await kannel.switch.wait_carrier_submits(1)
    total = (udh_concat(first[0]) or (0, 1, 1))[1]
    assert total >= 2
    carried = await kannel.switch.wait_carrier_submits(total)
    assert all(p["data_coding"] == 8 and p["esm_class"] & 0x40 for p in carried)
    octets = b"".join(
        bytes.fromhex(p["short_message_hex"])[1 + bytes.fromhex(p["short_message_hex"])[0]:]
        for p in sorted(carried, key=lambda p: udh_concat(p)[2]))  # type: ignore[index]
    assert octets.decode("utf-16-be") == text


async def test_mo_reaches_kannel_get_url(kannel: KannelSetup) -> None:
    _, number = TENANTS["kannel"]
    resp = await kannel.switch.inject_mo("mo-kannel", source_addr="263771234567", source_addr_ton=1,
                                         source_addr_npi=1, destination_addr=number, data_coding=8,
                                         short_message_hex=UCS2_TEXT.encode("utf-16-be").hex())
    assert resp["command_status"] == 0
    (mo,) = await kannel.receiver.wait_for("/mo", timeout=15)
    assert mo.query["to"] == number
    assert mo.query["from"].lstrip("+") == "263771234567"
    assert mo.query["coding"] == "2"
    assert mo.octets("text").decode("utf-16-be") == UCS2_TEXT
