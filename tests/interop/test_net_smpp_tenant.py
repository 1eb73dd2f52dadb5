"""Net::SMPP (Debian libnet-smpp-perl) as a tenant of the running smsswitch daemon: bind
transceiver, submit with a receipt request, receive the receipt, enquire_link, unbind.
"""

from __future__ import annotations

import pytest

from tests.interop.conftest import Switch
from tests.interop.daemon_harness import TENANTS
from tests.interop.peers import PERL_DIR, JsonLinesProcess, ProcessGroup, require_net_smpp
from tests.interop.texts import text_of

pytestmark = [pytest.mark.timeout(90), pytest.mark.peers("node", "perl", "daemon")]

TEXT = "Hello from Net::SMPP [perl] 100€"


async def test_submit_receipt_enquire_link_unbind(processes: ProcessGroup, switch: Switch) -> None:
    perl = require_net_smpp()
    password, _ = TENANTS["perl"]
    script = await processes.start(JsonLinesProcess(
        "Net::SMPP tenant",
        [perl, str(PERL_DIR / "tenant.pl"), "127.0.0.1", str(switch.port), "perl", password,
         "263771234567", TEXT.replace("€", "\x1be").replace("[", "\x1b<").replace("]", "\x1b>"), "20"],
    ))
    assert await script.wait_exit(30) == 0, script.describe()
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
