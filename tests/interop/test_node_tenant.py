"""node-smpp (npm `smpp`) as a tenant of the running smsswitch daemon; node-smpp is also the
carrier's SMSC, so each case checks what the tenant saw and what the carrier received.
"""

from __future__ import annotations

import pytest

from smsswitch.smpp.constants import CommandStatus
from tests.interop.conftest import Switch
from tests.interop.daemon_harness import TENANTS
from tests.interop.node_tenant import NodeTenant, receipt_of
from tests.interop.peers import ProcessGroup
from tests.interop.texts import (
    GSM_EURO_BRACKETS,
    GSM_TEXT,
    LONG_TEXT,
    UCS2_TEXT,
    reassemble,
    split_gsm,
    text_of,
    udh_concat,
)

pytestmark = [pytest.mark.timeout(90), pytest.mark.peers("node")]

PASSWORD, MO_NUMBER = TENANTS["node"]
DEST = "263771234567"
DEST2 = "263772345678"


async def bound_tenant(processes: ProcessGroup, switch: Switch) -> NodeTenant:
    tenant = await NodeTenant.start(processes, switch.port)
    resp = await tenant.bind("node", PASSWORD)
    assert resp["command_status"] == 0, resp
    assert resp["command"] == "bind_transceiver_resp"
    return tenant


async def test_gsm7_with_extension_characters_and_receipt(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                dest_addr_ton=1, dest_addr_npi=1, data_coding=0,
                                registered_delivery=1, short_message=GSM_TEXT)
    assert resp["command_status"] == 0 and resp["message_id"]
    message_id = resp["message_id"]

    (carried,) = await switch.wait_carrier_submits(1)
    assert carried["destination_addr"] == DEST and carried["data_coding"] == 0
    assert text_of(carried) == GSM_TEXT
    assert GSM_EURO_BRACKETS.hex() in carried["short_message_hex"]
    assert carried["registered_delivery"] & 0x01  # we ask the carrier for a receipt

    # The carrier's receipt comes back to the tenant with OUR message id, in text and TLVs.
    (receipt,) = await tenant.wait_received(1)
    assert receipt["esm_class"] & 0x3C == 0x04
    assert receipt["receipted_message_id"] == message_id
    assert receipt["message_state"] == 2  # DELIVERED
    body = receipt["short_message"]["text"]
    assert f"id:{message_id} " in body and "stat:DELIVRD" in body
    assert receipt["source_addr"] == DEST and receipt["destination_addr"] == "NODE"


async def test_gsm_text_with_node_smpp_default_data_coding(processes, switch: Switch) -> None:
    """node-smpp's default: GSM 03.38 octets sent with data_coding 0x01 (its "ASCII").

    The switch must not mangle them: whatever it does with data_coding 1, the octets that
    reach the carrier are the ones the tenant sent (and node-smpp on the carrier side reads
    the text back intact).
    """
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                short_message="Hi 5€ [x]")
    assert resp["command_status"] == 0, resp
    (carried,) = await switch.wait_carrier_submits(1)
    assert carried["short_message_hex"] == "486920351b65201b3c781b3e"
    assert carried["data_coding"] == 1
    assert text_of(carried) == "Hi 5€ [x]"


async def test_ucs2_cyrillic_and_emoji(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                # no data_coding: node-smpp picks 8 (UCS2) for this text
                                dest_addr_ton=1, dest_addr_npi=1, short_message=UCS2_TEXT)
    assert resp["command_status"] == 0
    (carried,) = await switch.wait_carrier_submits(1)
    assert carried["data_coding"] == 8
    assert bytes.fromhex(carried["short_message_hex"]).decode("utf-16-be") == UCS2_TEXT
    assert text_of(carried) == UCS2_TEXT


async def test_long_message_as_udh_parts(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    parts = split_gsm(LONG_TEXT)
    assert len(parts) == 3
    ids = []
    for seq, part in enumerate(parts, 1):
        resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5,
                                    destination_addr=DEST, data_coding=0,
                                    short_message={"udh_hex": f"0500037a03{seq:02x}", "message": part})
        assert resp["command_status"] == 0, resp
        ids.append(resp["message_id"])
    assert len(set(ids)) == 3
    carried = await switch.wait_carrier_submits(3)
    assert all(p["esm_class"] & 0x40 for p in carried)
    concat = [udh_concat(p) for p in carried]
    assert {c[1] for c in concat} == {3} and sorted(c[2] for c in concat) == [1, 2, 3]  # type: ignore[index]
    assert len({c[0] for c in concat}) == 1  # type: ignore[index]
    assert reassemble(carried) == LONG_TEXT


async def test_long_message_as_message_payload(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                data_coding=0, message_payload=LONG_TEXT)
    assert resp["command_status"] == 0, resp
    carried = await switch.wait_carrier_submits(1)
    # Forwarded whole or split for the carrier: either way the text arrives intact.
    with_parts = await _all_parts(switch, carried[0])
    assert reassemble(with_parts) == LONG_TEXT


async def test_long_message_as_sar_tlvs(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    parts = split_gsm(LONG_TEXT)
    for seq, part in enumerate(parts, 1):
        resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                    data_coding=0, short_message=part, sar_msg_ref_num=0x1234,
                                    sar_total_segments=len(parts), sar_segment_seqnum=seq)
        assert resp["command_status"] == 0, resp
    carried = await switch.wait_carrier_submits(len(parts))
    concat = [udh_concat(p) for p in carried]
    assert all(c is not None and c[1] == len(parts) for c in concat), carried
    assert sorted(c[2] for c in concat) == [1, 2, 3]  # type: ignore[index]
    assert reassemble(carried) == LONG_TEXT


async def test_receipt_goes_to_the_receiver_bind(processes, switch: Switch) -> None:
    transmitter = await NodeTenant.start(processes, switch.port)
    receiver = await NodeTenant.start(processes, switch.port)
    assert (await transmitter.bind("node", PASSWORD, "bind_transmitter"))["command_status"] == 0
    assert (await receiver.bind("node", PASSWORD, "bind_receiver"))["command_status"] == 0
    resp = await transmitter.request("submit_sm", source_addr="NODE", source_addr_ton=5,
                                     destination_addr=DEST,
                                     data_coding=0, registered_delivery=1, short_message="tx here, rx there")
    assert resp["command_status"] == 0
    receipt = receipt_of(await receiver.wait_received(1), resp["message_id"])
    assert "stat:DELIVRD" in receipt["short_message"]["text"]
    assert transmitter.received() == []


async def _all_parts(switch: Switch, first: dict) -> list[dict]:
    concat = udh_concat(first)
    if concat is None:
        return [first]
    return await switch.wait_carrier_submits(concat[1])


async def test_submit_multi_two_destinations(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_multi", source_addr="NODE", source_addr_ton=5, data_coding=0,
                                short_message="to both of you", dest_address=[
                                    {"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": DEST},
                                    {"dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": DEST2}])
    assert resp["command"] == "submit_multi_resp"
    assert resp["command_status"] == 0 and resp["message_id"]
    assert not resp.get("unsuccess_sme")
    carried = await switch.wait_carrier_submits(2)
    assert sorted(p["destination_addr"] for p in carried) == [DEST, DEST2]
    assert all(text_of(p) == "to both of you" for p in carried)


async def test_query_sm_after_receipt(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", source_addr="NODE", source_addr_ton=5, destination_addr=DEST,
                                data_coding=0, registered_delivery=1, short_message="query me")
    message_id = resp["message_id"]
    await switch.wait_carrier_submits(1)
    receipt_of(await tenant.wait_received(1), message_id)
    query = await tenant.request("query_sm", message_id=message_id, source_addr="NODE", source_addr_ton=5)
    assert query["command"] == "query_sm_resp"
    assert query["command_status"] == 0, query
    assert query["message_id"] == message_id
    assert query["message_state"] == 2  # DELIVERED
    assert query["final_date"]
    unknown = await tenant.request("query_sm", message_id="no-such-id", source_addr="NODE", source_addr_ton=5)
    assert unknown["command_status"] == CommandStatus.ESME_RQUERYFAIL


async def test_enquire_link_and_unbind(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("enquire_link")
    assert resp["command"] == "enquire_link_resp" and resp["command_status"] == 0
    resp = await tenant.request("unbind")
    assert resp["command"] == "unbind_resp" and resp["command_status"] == 0
    await tenant.wait_closed()
    assert switch.carrier_submits() == []


async def test_bad_password_is_refused(processes, switch: Switch) -> None:
    tenant = await NodeTenant.start(processes, switch.port)
    resp = await tenant.bind("node", "wrong-pw")
    assert resp["command"] == "bind_transceiver_resp"
    assert resp["command_status"] == CommandStatus.ESME_RINVPASWD


async def test_submit_before_bind_is_refused(processes, switch: Switch) -> None:
    tenant = await NodeTenant.start(processes, switch.port)
    resp = await tenant.request("submit_sm", destination_addr=DEST, short_message="too early")
    assert resp["command_status"] == CommandStatus.ESME_RINVBNDSTS, resp
    assert switch.carrier_submits() == []


async def test_empty_source_addr_is_refused_precisely(processes, switch: Switch) -> None:
    """node-smpp leaves source_addr empty unless told; SMPP 3.4 5.2.8 allows NULL ("unknown")
    but the switch needs a sender to route and bill, so it answers ESME_RINVSRCADR (and the
    connection stays usable). See the interop report: a per-tenant default sender is open."""
    tenant = await bound_tenant(processes, switch)
    resp = await tenant.request("submit_sm", destination_addr=DEST, short_message="who am I")
    assert resp["command_status"] == CommandStatus.ESME_RINVSRCADR
    resp = await tenant.request("enquire_link")
    assert resp["command_status"] == 0
    assert switch.carrier_submits() == []


async def test_mo_reaches_the_tenant(processes, switch: Switch) -> None:
    tenant = await bound_tenant(processes, switch)
    resp = await switch.inject_mo("mo-ucs2", source_addr="263771234567", source_addr_ton=1, source_addr_npi=1,
                                  destination_addr=MO_NUMBER, data_coding=8,
                                  short_message_hex=UCS2_TEXT.encode("utf-16-be").hex())
    assert resp["command_status"] == 0
    resp = await switch.inject_mo("mo-gsm", source_addr="263771234567", destination_addr=MO_NUMBER,
                                  data_coding=0, short_message=GSM_TEXT)
    assert resp["command_status"] == 0
    ucs2, gsm = await tenant.wait_received(2)
    assert ucs2["esm_class"] & 0x3C == 0
    assert ucs2["destination_addr"] == MO_NUMBER
    assert ucs2["source_addr"].lstrip("+") == "263771234567"
    assert ucs2["data_coding"] == 8 and text_of(ucs2) == UCS2_TEXT
    assert gsm["data_coding"] == 0 and text_of(gsm) == GSM_TEXT
    assert GSM_EURO_BRACKETS.hex() in gsm["short_message_hex"]
