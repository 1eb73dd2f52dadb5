"""The policy over the real tenant server and switch, on real TCP: every refusal reaches the
tenant as its SMPP status, template matching works on GSM7 and UCS2 submits, a rewritten
sender is what the carrier sees, and a STOP recorded by the core blocks MT until START.

The server talks to `PolicyGate` (tests/policy/gate.py), which calls the policy exactly as
the core is to call it, in front of the real Switch; the tenant is our own SMPP codec.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import trio

from smsswitch.config import ListenerConfig, ServerConfig
from smsswitch.policy import load_policy_text
from smsswitch.server.listener import TenantServer
from smsswitch.server.tenants import TenantDirectory
from smsswitch.smpp.concat import build_concat_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import SubmitSm
from smsswitch.smpp.text import encode_text
from tests.core.harness import DEST, SHORT_CODE, RawTenant, running, tenant

from .gate import PolicyGate

POLICY = """\
block_list: ["+263770000000"]
tenants:
  acme:
    senders: {allow: ["ACME*"], otherwise: reject}
    destinations: {countries_allow: [ZW], require_valid: true}
    templates_only: true
    reject_status: ESME_RINVMSGLEN
    templates:
      otp: "Your code is {code:digits(4-8)}. It expires in {minutes:digits(1-2)} minutes."
      bonjour: "Bonjour {name:text(1-20)}, votre code est {code:digits(6)} 🔐"
  beta:
    senders: {allow: ["BETA"], otherwise: rewrite, default: "BETA"}
"""
OTP = "Your code is 123456. It expires in 5 minutes."


@asynccontextmanager
async def gated(path: Path) -> AsyncIterator[tuple[object, PolicyGate, int]]:
    tenants = (tenant("acme"), tenant("beta"))
    async with running(path, tenants=tenants) as h:
        gate = PolicyGate(h.switch, load_policy_text(POLICY, "policy.yaml", {"acme", "beta"}))
        server = TenantServer(
            ServerConfig(listeners=(ListenerConfig("127.0.0.1", 0),), failed_bind_delay=0.01),
            TenantDirectory(tenants), gate,
        )  # fmt: skip
        async with trio.open_nursery() as nursery:
            addresses = await nursery.start(server.serve)
            try:
                yield h, gate, addresses[0][1]
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await server.shutdown(0.2)
                nursery.cancel_scope.cancel()


def submit(source: str, dest: str, text: str, data_coding: int = 0, **fields: object) -> SubmitSm:
    alphanumeric = not source.isdigit()
    return SubmitSm(
        source_addr_ton=5 if alphanumeric else 1, source_addr_npi=0 if alphanumeric else 1, source_addr=source,
        dest_addr_ton=1, dest_addr_npi=1, destination_addr=dest, data_coding=data_coding,
        short_message=fields.pop("short_message", None) or encode_text(text, data_coding), **fields,
    )  # fmt: skip


async def test_each_refusal_reaches_the_tenant_with_its_status(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with gated(tmp_path) as (h, gate, port):
            acme = await RawTenant.bound(port, "acme")
            try:
                cases = [
                    (submit("ACME", DEST, OTP), S.ESME_ROK),
                    (submit("ACME", DEST, OTP, 8), S.ESME_ROK),  # the same text in UCS2
                    (submit("ACME", DEST, "Bonjour Zoë, votre code est 654321 🔐", 8), S.ESME_ROK),
                    (submit("EVIL", DEST, OTP), S.ESME_RINVSRCADR),
                    (submit("ACME", "447400123456", OTP), S.ESME_RINVDSTADR),  # GB: not allowed
                    (submit("ACME", "263770000000", OTP), S.ESME_RX_R_APPN),  # block list
                    (submit("ACME", DEST, "Buy cheap watches"), S.ESME_RINVMSGLEN),  # no template
                    (submit("ACME", DEST, "Bonjour Zoë, achetez 🔐", 8), S.ESME_RINVMSGLEN),
                    # One part of a concatenated message cannot be checked against a template.
                    (submit("ACME", DEST, "", esm_class=ESM_CLASS_UDHI,
                            short_message=build_concat_udh(1, 2, 1) + encode_text("Your code is", 0)), S.ESME_RINVMSGLEN),
                ]  # fmt: skip
                statuses = [(await acme.request(pdu)).command_status for pdu, _ in cases]
            finally:
                await acme.aclose()
            assert statuses == [expected for _, expected in cases]
            assert [v.template for v in gate.verdicts[:3]] == ["otp", "otp", "bonjour"]
            # Only the accepted three reached the carrier, with their text intact.
            await h.wait_for(lambda: len(h.sim.received()) == 3)
            texts = [r["text"] for r in h.sim.received()]
            assert texts == [OTP, OTP, "Bonjour Zoë, votre code est 654321 🔐"]


async def test_rewritten_sender_is_what_the_carrier_sees(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with gated(tmp_path) as (h, _gate, port):
            beta = await RawTenant.bound(port, "beta")
            try:
                answer = await beta.request(submit("SPOOFED", DEST, "hello"))
            finally:
                await beta.aclose()
            assert answer.command_status == S.ESME_ROK
            await h.wait_for(lambda: len(h.sim.received()) == 1)
            (received,) = h.sim.received()
            assert received["source"] == "BETA"


async def test_stop_blocks_mt_until_start(tmp_path: Path) -> None:
    """STOP to the short code (routed to beta by the core's MO rules) is recorded by the
    core; the policy then refuses beta's MT to that subscriber until START."""
    with trio.fail_after(30):
        async with gated(tmp_path) as (h, gate, port):
            beta = await RawTenant.bound(port, "beta")
            try:
                assert (await beta.request(submit("BETA", DEST, "before"))).command_status == S.ESME_ROK
                await h.sim.inject_mo(DEST, SHORT_CODE, "STOP")
                await h.wait_for(lambda: h.switch.stats()["mo_in"].get("opt_out") == 1)
                assert (await beta.request(submit("BETA", DEST, "after stop"))).command_status == S.ESME_RX_R_APPN
                assert gate.verdicts[-1].check == "opt_out"
                await h.sim.inject_mo(DEST, SHORT_CODE, "START")
                await h.wait_for(lambda: h.switch.stats()["mo_in"].get("opt_in") == 1)
                assert (await beta.request(submit("BETA", DEST, "welcome back"))).command_status == S.ESME_ROK
            finally:
                await beta.aclose()
