"""Net::SMPP (Debian libnet-smpp-perl) as a tenant of the running smsswitch daemon: bind
transceiver, submit with a receipt request, receive the receipt, enquire_link, unbind.
"""

from __future__ import annotations

import pytest

from tests.interop.conftest import Switch
from tests.interop.daemon_harness import TENANTS
from tests.interop.peers import PERL_DIR, JsonLinesProcess, ProcessGroup, require_net_smpp
from tests.interop.texts import text_of

pytestmark = [pytest.mark.timeout(90), pytest.mark.peers("node", "perl")]

TEXT = "Hello from Net::SMPP [perl] 100€"


async def run_script(processes: ProcessGroup, switch: Switch, text: str, enquire_first: bool = False
                     ) -> JsonLinesProcess:
    """tests/interop/perl/tenant.pl to completion; `text` in GSM 03.38 (extension escapes)."""
    perl = require_net_smpp()
    password, _ = TENANTS["perl"]
    gsm = text.replace("€", "\x1be").replace("[", "\x1b<").replace("]", "\x1b>")
    script = await processes.start(JsonLinesProcess(
        "Net::SMPP tenant",
        [perl, str(PERL_DIR / "tenant.pl"), "127.0.0.1", str(switch.port), "perl", password,
         "263771234567", gsm, "20", "1" if enquire_first else ""],
    ))
    assert await script.wait_exit(30) == 0, script.describe()
    return script


async def test_submit_receipt_enquire_link_unbind(processes: ProcessGroup, switch: Switch) -> None:
    script = await run_script(processes, switch, TEXT)
    (bind,) = script.find("bind")
    assert bind["status"] == 0
    (submit,) = script.find("submit")
    assert submit["status"] == 0 and submit["message_id"]

    # The carrier got the message with the GSM octets Net::SMPP sent, text intact.
    (carried,) = switch.carrier_submits()
    assert carried["destination_addr"] == "263771234567" and carried["source_addr"] == "PERLTEST"
    assert carried["data_coding"] == 0 and text_of(carried) == TEXT
    assert carried["registered_delivery"] & 0x01

    # The receipt reached Net::SMPP with the id it was given, both in TLVs and in the text.
    (receipt,) = script.find("deliver_sm")
    assert receipt["esm_class"] & 0x04
    assert receipt["receipted_message_id"] == submit["message_id"]
    assert receipt["message_state"] == 2
    assert f"id:{submit['message_id']} " in receipt["short_message"]
    assert "stat:DELIVRD" in receipt["short_message"]

    (enquire,) = script.find("enquire_link")
    assert enquire["status"] == 0
    (unbind,) = script.find("unbind")
    assert unbind["status"] == 0


async def test_receipt_dropped_by_a_synchronous_wait_is_delivered_again(processes: ProcessGroup,
                                                                       switch: Switch) -> None:
    """Net::SMPP's synchronous enquire_link() reads and silently drops the receipt that arrives
    meanwhile (no deliver_sm_resp). The switch keeps the receipt owed until it is answered
    and sends it again after the tenant's deliver_timeout (2 s here) on the same bind."""
    script = await run_script(processes, switch, "answer me later", enquire_first=True)
    (submit,) = script.find("submit")
    (early,) = script.find("enquire_link_early")
    assert early["status"] == 0
    (receipt,) = script.find("deliver_sm")
    assert receipt["receipted_message_id"] == submit["message_id"]
    assert "stat:DELIVRD" in receipt["short_message"]
    assert [e["event"] for e in script.events][-2:] == ["enquire_link", "unbind"]
