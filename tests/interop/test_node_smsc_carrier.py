"""smsswitch's carrier Connector bound to node-smpp acting as the carrier's SMSC.

Each case checks both ends: what node-smpp received and answered (its JSON events), and what
the connector reported to the core (a recording sink).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trio

from smsswitch.carrier.api import SubmitJob, SubmitOutcome
from smsswitch.carrier.connector import Connector
from smsswitch.config import CarrierQuirks, ConnectorConfig
from smsswitch.core.receipts import is_receipt, read_carrier_receipt
from smsswitch.journal.records import MessageState
from smsswitch.smpp.constants import CommandStatus, Tag
from smsswitch.smpp.pdu import SubmitSm
from smsswitch.smpp.text import decode_text
from tests.interop.carrier_sink import RecordingSink
from tests.interop.conftest import StartSmsc
from tests.interop.peers import JsonLinesProcess

pytestmark = [pytest.mark.timeout(60), pytest.mark.peers("node")]

GSM_TEXT = "Price 5€ [promo] ~ok~ {x} |y| ^z \\ @£$¥"
#: GSM 03.38 octets of "5€ [promo]": escape 0x1B before €, [ and ].
GSM_EURO_BRACKETS = bytes.fromhex("351b65201b3c70726f6d6f1b3e")
UCS2_TEXT = "Привет, мир! 👋🏽 😀"

Connected = tuple[Connector, RecordingSink, JsonLinesProcess]


@pytest.fixture
async def connect(
    start_node_smsc: StartSmsc, nursery: trio.Nursery
) -> AsyncIterator[Callable[..., Awaitable[Connected]]]:
    """Start node-smpp as SMSC and a Connector bound to it; the connector stops after the test."""
    connectors: list[Connector] = []

    async def connect(deliver_status: int = 0, window: int = 10, **smsc_options) -> Connected:
        smsc, port = await start_node_smsc(**smsc_options)
        config = ConnectorConfig(
            name="node",
            host="127.0.0.1",
            port=port,
            system_id="carrier",
            password="secret",
            window=window,
            enquire_link_interval=0.3,
            response_timeout=3,
            reconnect_initial=0.1,
            reconnect_max=0.5,
            quirks=CarrierQuirks(receipt_id_format="auto", receipts_in="both"),
        )
        sink = RecordingSink(deliver_status)
        connector = Connector(config, sink)
        connectors.append(connector)
        nursery.start_soon(connector.run)
        await smsc.wait_for("bind", timeout=10)
        return connector, sink, smsc

    yield connect
    with trio.CancelScope(shield=True):
        for connector in connectors:
            with trio.move_on_after(5):
                await connector.stop(grace=0.5)


def _job(message_id: str, text_octets: bytes, data_coding: int, *, receipt: bool = False,
         **fields) -> SubmitJob:
    pdu = SubmitSm(source_addr="SMSSWITCH", source_addr_ton=5, destination_addr="263771234567",
                   dest_addr_ton=1, dest_addr_npi=1, data_coding=data_coding,
                   short_message=text_octets, registered_delivery=1 if receipt else 0, **fields)
    return SubmitJob(message_id=message_id, pdu=pdu)


async def test_binds_as_transceiver_and_keeps_link_alive(connect) -> None:
    connector, _, smsc = await connect()
    (bind,) = smsc.find("bind")
    assert bind["command"] == "bind_transceiver"
    assert bind["system_id"] == "carrier" and bind["command_status"] == 0
    assert bind["interface_version"] == 0x34
    # Our enquire_link every 0.3 s reaches node-smpp, which answers it.
    await smsc.wait_for("pdu", lambda e: e["pdu"]["command"] == "enquire_link", count=2, timeout=5)
    # node-smpp's enquire_link to us is answered ESME_ROK.
    await smsc.send({"cmd": "enquire_link"})
    (resp,) = await smsc.wait_for("enquire_link_resp", timeout=5)
    assert resp["command_status"] == 0
    assert connector.health().sessions_bound == 1


async def test_gsm7_submit_with_extension_characters(connect) -> None:
    from smsswitch.smpp.gsm0338 import encode

    connector, sink, smsc = await connect()
    await connector.submit(_job("m-gsm", encode(GSM_TEXT), 0))
    await sink.wait_until(lambda: sink.results, what="submit result")
    (result,) = sink.results
    assert result.outcome is SubmitOutcome.ACCEPTED
    (resp,) = smsc.find("submit_resp")
    assert result.carrier_message_id == resp["message_id"]
    (submit,) = smsc.find("pdu", lambda e: e["pdu"]["command"] == "submit_sm")
    pdu = submit["pdu"]
    assert pdu["data_coding"] == 0 and pdu["destination_addr"] == "263771234567"
    assert pdu["source_addr"] == "SMSSWITCH" and pdu["source_addr_ton"] == 5
    # node-smpp decodes data_coding 0 as GSM 03.38 with the extension table: text intact.
    assert pdu["short_message"]["text"] == GSM_TEXT
    assert GSM_EURO_BRACKETS.hex() in pdu["short_message_hex"]


async def test_ucs2_submit_with_cyrillic_and_emoji(connect) -> None:
    connector, sink, smsc = await connect()
    await connector.submit(_job("m-ucs2", UCS2_TEXT.encode("utf-16-be"), 8))
    await sink.wait_until(lambda: sink.results, what="submit result")
    assert sink.results[0].outcome is SubmitOutcome.ACCEPTED
    (submit,) = smsc.find("pdu", lambda e: e["pdu"]["command"] == "submit_sm")
    assert submit["pdu"]["data_coding"] == 8
    assert submit["pdu"]["short_message"]["text"] == UCS2_TEXT
    assert bytes.fromhex(submit["pdu"]["short_message_hex"]).decode("utf-16-be") == UCS2_TEXT


async def test_long_text_in_message_payload(connect) -> None:
    long_text = "Long message over 160 GSM characters: " + "0123456789" * 30
    from smsswitch.smpp.gsm0338 import encode

    connector, sink, smsc = await connect()
    job = _job("m-payload", b"", 0)
    job.pdu.tlvs[Tag.MESSAGE_PAYLOAD] = encode(long_text)
    await connector.submit(job)
    await sink.wait_until(lambda: sink.results, what="submit result")
    assert sink.results[0].outcome is SubmitOutcome.ACCEPTED
    (submit,) = smsc.find("pdu", lambda e: e["pdu"]["command"] == "submit_sm")
    assert submit["pdu"]["short_message_hex"] == ""
    assert submit["pdu"]["message_payload"]["text"] == long_text


async def test_receipt_is_correlated_by_carrier_id(connect) -> None:
    from smsswitch.smpp.gsm0338 import encode

    connector, sink, smsc = await connect(id_format="hex")
    await connector.submit(_job("m-dlr", encode("receipt please"), 0, receipt=True))
    await sink.wait_until(lambda: sink.results and sink.delivered, what="result and receipt")
    carrier_id = sink.results[0].carrier_message_id
    (receipt_pdu,) = sink.delivered
    assert is_receipt(receipt_pdu)
    for where in ("text", "tlv", "both"):  # node-smpp writes both forms; each reads alike
        receipt = read_carrier_receipt(receipt_pdu, CarrierQuirks(receipts_in=where))
        assert receipt is not None, where
        assert receipt.carrier_id == carrier_id and receipt.state is MessageState.DELIVERED
    (sent,) = await smsc.wait_for("receipt_sent")
    assert sent["message_id"] == carrier_id
    (resp,) = await smsc.wait_for("deliver_resp")
    assert resp["command_status"] == 0
    assert connector.health().receipts == 1


async def test_undeliverable_receipt_text_only(connect) -> None:
    from smsswitch.smpp.gsm0338 import encode

    connector, sink, smsc = await connect(receipt_stat="UNDELIV", receipt_tlvs=False, id_format="decimal")
    await connector.submit(_job("m-undeliv", encode("bad number"), 0, receipt=True))
    await sink.wait_until(lambda: sink.results and sink.delivered, what="result and receipt")
    (receipt_pdu,) = sink.delivered
    assert Tag.RECEIPTED_MESSAGE_ID not in receipt_pdu.tlvs
    receipt = read_carrier_receipt(receipt_pdu, CarrierQuirks())
    assert receipt is not None
    assert receipt.carrier_id == sink.results[0].carrier_message_id
    assert receipt.state is MessageState.UNDELIVERABLE and receipt.stat == "UNDELIV"


async def test_mo_injection_reaches_the_core_and_its_status_reaches_the_carrier(connect) -> None:
    connector, sink, smsc = await connect()
    await smsc.send({"cmd": "deliver", "tag": "mo-ucs2", "fields": {
        "source_addr": "263771234567", "source_addr_ton": 1, "source_addr_npi": 1,
        "destination_addr": "34567", "data_coding": 8,
        "short_message_hex": UCS2_TEXT.encode("utf-16-be").hex()}})
    await smsc.send({"cmd": "deliver", "tag": "mo-gsm", "fields": {
        "source_addr": "263771234567", "destination_addr": "34567",
        "short_message": "STOP € [x]"}})
    await sink.wait_until(lambda: len(sink.delivered) == 2, what="two MO")
    ucs2, gsm = sink.delivered
    assert not is_receipt(ucs2) and not is_receipt(gsm)
    assert ucs2.source_addr == "263771234567" and ucs2.destination_addr == "34567"
    assert decode_text(ucs2.short_message, ucs2.data_coding) == UCS2_TEXT
    # node-smpp sends its GSM 03.38 ("ASCII" in its API) with data_coding 0x01, which SMPP 3.4
    # defines as IA5: the octets are GSM (€ = 1B 65), whatever the data_coding says.
    assert gsm.data_coding == 1
    assert gsm.short_message == bytes.fromhex("53544f50201b65201b3c781b3e")
    resps = await smsc.wait_for("deliver_resp", count=2)
    assert {r["tag"]: r["command_status"] for r in resps} == {"mo-ucs2": 0, "mo-gsm": 0}
    assert connector.health().mo == 2


async def test_core_refusal_status_reaches_the_carrier(connect) -> None:
    connector, sink, smsc = await connect(deliver_status=CommandStatus.ESME_RX_T_APPN)
    await smsc.send({"cmd": "deliver", "tag": "mo", "fields": {
        "source_addr": "263771234567", "destination_addr": "34567", "short_message": "hi"}})
    (resp,) = await smsc.wait_for("deliver_resp")
    assert resp["command_status"] == CommandStatus.ESME_RX_T_APPN


async def test_throttled_submits_are_retried_after_a_pause(connect) -> None:
    from smsswitch.smpp.gsm0338 import encode

    connector, sink, smsc = await connect(throttle_first=3)
    start = trio.current_time()
    await connector.submit(_job("m-throttle", encode("slow down"), 0))
    await sink.wait_until(lambda: sink.results, timeout=15, what="submit result")
    elapsed = trio.current_time() - start
    (result,) = sink.results
    assert result.outcome is SubmitOutcome.ACCEPTED and result.job.message_id == "m-throttle"
    statuses = [e["command_status"] for e in smsc.find("submit_resp")]
    assert statuses == [0x58, 0x58, 0x58, 0]
    submits = smsc.find("pdu", lambda e: e["pdu"]["command"] == "submit_sm")
    assert len(submits) == 4
    assert elapsed >= 0.1 + 0.2 + 0.4 - 0.05  # the connector backed off between the attempts
    assert connector.health().throttled == 3
