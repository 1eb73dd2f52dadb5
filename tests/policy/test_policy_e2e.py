"""The policy wired into the real switch, over real TCP: the real tenant server, the real
Switch (given `policy=`, as the daemon does), real connectors and the carrier simulator.

- every refusal reaches the tenant as its SMPP status, and is counted by check;
- templates match GSM7 and UCS2 submits; the name is on the journalled record and counted;
- a rewritten sender is what the carrier sees;
- STOP → the confirmation MT reaches the subscriber through the carrier → the tenant's MT
  to them is refused → START → its confirmation → allowed again;
- a robot answering our auto-replies, alternating between two MO routes, gets N replies and
  no more; our own reply looping back as MO is never answered;
- set_policy swaps the policy on a running switch; /metrics exports the counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from prometheus_client import generate_latest

from smsswitch.metrics import SwitchCollector, build_registry
from smsswitch.policy import Policy, load_policy_text
from smsswitch.smpp.concat import build_concat_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import SubmitSm
from smsswitch.smpp.text import encode_text
from tests.core.harness import DEST, ROUTES, SHORT_CODE, Harness, RawTenant, running

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
    replies: {opt_in: "Welcome back to {tenant}. Reply STOP to stop."}
auto_replies:
  max_per_sender: 3
  window: 3600
  own_addresses: ["60682"]
  opt_out: "You will get no more messages from {tenant}. Reply START to resume."
  opt_in: "Messages from {tenant} resume. Reply STOP to stop."
  routes:
    acme-keyword: "Thanks! {tenant} got your {keyword}."
    loop-a: "Got it, {tenant} will answer soon."
    loop-b: "Thank you for writing to {tenant}."
"""
OTP = "Your code is 123456. It expires in 5 minutes."
BONJOUR = "Bonjour Zoë, votre code est 654321 🔐"
LONG_A, LONG_B = "263771000001", "263771000002"  # our long codes: MO routes loop-a (acme), loop-b (beta)
ROBOT = "263772222222"  # a subscriber whose phone answers every message automatically

ROUTES_WITH_LOOP: dict[str, Any] = {
    **ROUTES,
    "mo": [
        {"name": "loop-a", "match": {"to": ["+" + LONG_A]}, "deliver": {"tenant": "acme"}},
        {"name": "loop-b", "match": {"to": ["+" + LONG_B]}, "deliver": {"tenant": "beta"}},
        *ROUTES["mo"],
    ],
}


def load(text: str = POLICY) -> Policy:
    return load_policy_text(text, "policy.yaml", {"acme", "beta"})


@asynccontextmanager
async def switched(path: Path, policy: Policy | None = None) -> AsyncIterator[Harness]:
    async with running(path, routes=ROUTES_WITH_LOOP, switch_options={"policy": policy or load()}) as h:
        yield h


def submit(source: str, dest: str, text: str, data_coding: int = 0, **fields: object) -> SubmitSm:
    alphanumeric = not source.isdigit()
    return SubmitSm(
        source_addr_ton=5 if alphanumeric else 1, source_addr_npi=0 if alphanumeric else 1, source_addr=source,
        dest_addr_ton=1, dest_addr_npi=1, destination_addr=dest, data_coding=data_coding,
        short_message=fields.pop("short_message", None) or encode_text(text, data_coding), **fields,
    )  # fmt: skip


def sent_to(h: Harness, number: str) -> list[dict[str, Any]]:
    """What the carrier received for `number`, oldest first."""
    return [r for r in h.sim.received() if r["destination"] == number]


def policy_stats(h: Harness) -> dict[str, Any]:
    return h.switch.stats()["policy"]


def autoreplies(h: Harness) -> dict[str, Any]:
    return h.switch.stats()["autoreplies"]


async def test_each_refusal_reaches_the_tenant_with_its_status(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            acme = await RawTenant.bound(h.port, "acme")
            try:
                cases = [
                    (submit("ACME", DEST, OTP), S.ESME_ROK),
                    (submit("ACME", DEST, OTP, 8), S.ESME_ROK),  # the same text in UCS2
                    (submit("ACME", DEST, BONJOUR, 8), S.ESME_ROK),
                    (submit("EVIL", DEST, OTP), S.ESME_RINVSRCADR),
                    # Not a valid number (unassigned +44 range): the server's own check refuses it first.
                    (submit("ACME", "447700900123", OTP), S.ESME_RINVDSTADR),
                    (submit("ACME", "447400123456", OTP), S.ESME_RINVDSTADR),  # GB: not allowed
                    (submit("ACME", "263770000000", OTP), S.ESME_RX_R_APPN),  # block list
                    (submit("ACME", DEST, "Buy cheap watches"), S.ESME_RINVMSGLEN),  # no template
                    (submit("ACME", DEST, "Bonjour Zoë, achetez 🔐", 8), S.ESME_RINVMSGLEN),
                    # One part of a concatenated message cannot be checked against a template.
                    (submit("ACME", DEST, "", esm_class=ESM_CLASS_UDHI,
                            short_message=build_concat_udh(1, 2, 1) + encode_text("Your code is", 0)), S.ESME_RINVMSGLEN),
                ]  # fmt: skip
                answers = [await acme.request(pdu) for pdu, _ in cases]
            finally:
                await acme.aclose()
            assert [a.command_status for a in answers] == [expected for _, expected in cases]
            # The template each accepted message matched is on its journalled record.
            records = [h.journal.get(a.message_id) for a in answers[:3]]
            assert [r.template for r in records] == ["otp", "otp", "bonjour"]  # type: ignore[union-attr]
            stats = policy_stats(h)
            assert stats["rejections"] == {
                "acme": {"sender": 1, "country": 1, "block_list": 1, "template": 3}
            }
            assert stats["templates"] == {"acme": {"otp": 2, "bonjour": 1}}
            # Only the accepted three reached the carrier, with their text intact.
            await h.wait_for(lambda: len(h.sim.received()) == 3)
            assert [r["text"] for r in h.sim.received()] == [OTP, OTP, BONJOUR]
            assert [r["data_coding"] for r in h.sim.received()] == [0, 8, 8]
            await h.wait_for(lambda: all(h.state(a.message_id) == "DELIVERED" for a in answers[:3]))


async def test_rewritten_sender_is_what_the_carrier_sees(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            beta = await RawTenant.bound(h.port, "beta")
            try:
                answer = await beta.request(submit("SPOOFED", DEST, "hello"))
            finally:
                await beta.aclose()
            assert answer.command_status == S.ESME_ROK
            await h.wait_for(lambda: len(h.sim.received()) == 1)
            assert h.sim.received()[0]["source"] == "BETA"
            record = h.journal.get(answer.message_id)
            assert record is not None and record.source == "BETA" and record.source_ton == 5
            assert policy_stats(h)["rewrites"] == {"beta": 1}


async def test_stop_confirmation_blocks_mt_until_start(tmp_path: Path) -> None:
    """STOP to the short code (routed to beta by the MO rules): the core records the opt-out,
    the subscriber gets the confirmation from the short code through the carrier, beta's MT
    to them is refused until START (whose confirmation is beta's own text)."""
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            beta = await RawTenant.bound(h.port, "beta")
            try:
                assert (await beta.request(submit("BETA", DEST, "before"))).command_status == S.ESME_ROK
                await h.sim.inject_mo(DEST, SHORT_CODE, "STOP")
                await h.wait_for(lambda: len(sent_to(h, DEST)) == 2)
                confirmation = sent_to(h, DEST)[1]
                assert confirmation["source"] == SHORT_CODE
                assert confirmation["text"] == "You will get no more messages from beta. Reply START to resume."
                assert h.switch.stats()["mo_in"]["opt_out"] == 1

                refused = await beta.request(submit("BETA", DEST, "after stop"))
                assert refused.command_status == S.ESME_RX_R_APPN
                assert policy_stats(h)["rejections"] == {"beta": {"opt_out": 1}}
                # Other subscribers are not affected.
                assert (await beta.request(submit("BETA", "263771234568", "to someone else"))).command_status == S.ESME_ROK

                await h.sim.inject_mo(DEST, SHORT_CODE, "START")
                await h.wait_for(lambda: len(sent_to(h, DEST)) == 3)
                assert sent_to(h, DEST)[2]["text"] == "Welcome back to beta. Reply STOP to stop."
                welcome = await beta.request(submit("BETA", DEST, "welcome back"))
                assert welcome.command_status == S.ESME_ROK
                await h.wait_for(lambda: len(sent_to(h, DEST)) == 4)
                assert sent_to(h, DEST)[3]["text"] == "welcome back"
            finally:
                await beta.aclose()
            assert autoreplies(h)["sent"] == 2
            # The confirmations are beta's journalled MT, receipted by the carrier like any other.
            for received, template in ((confirmation, "opt_out"), (sent_to(h, DEST)[2], "opt_in")):
                message_id = await _our_id(h, received)
                record = h.journal.get(message_id)
                assert record is not None and (record.tenant, record.bind, record.template) == ("beta", "autoreply", template)
                await h.wait_for(lambda: h.state(message_id) == "DELIVERED")  # noqa: B023
            metrics = generate_latest(build_registry(_collector(h))).decode()
            assert 'smsswitch_policy_rejections_total{check="opt_out",tenant="beta"} 1.0' in metrics
            assert 'smsswitch_autoreplies_total{result="sent"} 2.0' in metrics


async def test_keyword_reply_is_an_ordinary_receipted_mt(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            await h.sim.inject_mo(DEST, SHORT_CODE, "60682 hello")
            await h.wait_for(lambda: len(sent_to(h, DEST)) == 1)
            reply = sent_to(h, DEST)[0]
            assert (reply["source"], reply["text"]) == (SHORT_CODE, "Thanks! acme got your 60682.")
            # Journalled as acme's message, from the short code, and ended by the carrier's receipt.
            record = h.journal.get(await _our_id(h, reply))
            assert record is not None
            assert (record.tenant, record.bind, record.template, record.route) == ("acme", "autoreply", "acme-keyword", "all")
            assert (record.source, record.source_ton, record.destination) == (SHORT_CODE, 3, "+" + DEST)
            await h.wait_for(lambda: h.state(record.id) == "DELIVERED")
            # acme did not send it, so it is owed no receipt for it: only the MO is in its outbox.
            assert record.registered_delivery == 0


async def test_robot_answering_between_two_mo_routes_gets_n_replies(tmp_path: Path) -> None:
    """The robot answers every message it gets, each time to our other long code (MO route
    loop-a delivers to acme, loop-b to beta, both answer automatically). The per-sender limit
    (3 per hour) ends it: 3 replies, then the 4th MO is suppressed and the loop is over."""
    with trio.fail_after(40):
        async with switched(tmp_path) as h:
            await h.sim.inject_mo(ROBOT, LONG_A, "Hi, this is an automatic answering service")
            answered = 0
            for turn in range(10):
                await h.wait_for(lambda: len(sent_to(h, ROBOT)) > answered or autoreplies(h).get("suppressed", 0) > 0)
                if autoreplies(h).get("suppressed", 0):
                    break
                ours = sent_to(h, ROBOT)[answered]
                answered += 1
                other = LONG_B if ours["source"] == LONG_A else LONG_A
                await h.sim.inject_mo(ROBOT, other, f"Automatic answer number {turn}: we got your message")
            await trio.sleep(0.3)  # nothing more goes out
            replies = sent_to(h, ROBOT)
            assert len(replies) == 3 == answered
            assert [r["source"] for r in replies] == [LONG_A, LONG_B, LONG_A]
            assert [r["text"] for r in replies] == [
                "Got it, acme will answer soon.", "Thank you for writing to beta.", "Got it, acme will answer soon.",
            ]
            stats = autoreplies(h)
            assert (stats["sent"], stats["suppressed"], stats["suppressed_by"]) == (3, 1, {"rate_limited": 1})
            assert h.switch.stats()["mo_in"]["delivered"] == 4  # the MO itself still reaches its tenant
            metrics = generate_latest(build_registry(_collector(h))).decode()
            assert 'smsswitch_autoreplies_suppressed_total{reason="rate_limited"} 1.0' in metrics


async def test_our_own_reply_coming_back_as_mo_is_not_answered(tmp_path: Path) -> None:
    """A carrier that delivers our MT to our own long code back to us as MO: our two routes
    would answer each other for ever. The first reply goes; its echo is recognised (our own
    text), and anything else from an address we answered from is never answered either."""
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            await h.sim.inject_mo(LONG_B, LONG_A, "hello")  # from our other number (a test line)
            await h.wait_for(lambda: len(sent_to(h, LONG_B)) == 1)
            echo = sent_to(h, LONG_B)[0]
            assert (echo["source"], echo["text"]) == (LONG_A, "Got it, acme will answer soon.")
            await h.sim.inject_mo(echo["source"], echo["destination"], echo["text"])  # the loop attempt
            await h.wait_for(lambda: autoreplies(h).get("suppressed", 0) == 1)
            assert autoreplies(h)["suppressed_by"] == {"auto_reply_in": 1}
            await h.sim.inject_mo(LONG_A, LONG_B, "a different text")
            await h.wait_for(lambda: autoreplies(h).get("suppressed", 0) == 2)
            assert autoreplies(h)["suppressed_by"] == {"auto_reply_in": 1, "own_address": 1}
            await trio.sleep(0.2)
            assert len(sent_to(h, LONG_A)) == 0 and len(sent_to(h, LONG_B)) == 1


async def test_set_policy_swaps_on_a_running_switch(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with switched(tmp_path) as h:
            acme = await RawTenant.bound(h.port, "acme")
            try:
                assert (await acme.request(submit("ACME", DEST, "free text"))).command_status == S.ESME_RINVMSGLEN
                h.switch.set_policy(load(POLICY.replace("templates_only: true", "templates_only: false")))
                assert (await acme.request(submit("ACME", DEST, "free text"))).command_status == S.ESME_ROK
                assert (await acme.request(submit("EVIL", DEST, OTP))).command_status == S.ESME_RINVSRCADR
                h.switch.set_policy(None)  # the config no longer names a policy file
                assert (await acme.request(submit("EVIL", DEST, OTP))).command_status == S.ESME_ROK
            finally:
                await acme.aclose()
            assert policy_stats(h)["rejections"] == {"acme": {"template": 1, "sender": 1}}


def _collector(h: Harness) -> SwitchCollector:
    collector = SwitchCollector()
    collector.switch = h.switch
    return collector


async def _our_id(h: Harness, received: dict[str, Any]) -> str:
    """Our message id for what the carrier received (its correlation, once journalled)."""
    store = h.journal.store
    found: list[str] = []

    def correlated() -> bool:
        with h.journal.read() as txn:
            message_id = store.find_correlation(txn, "sim", received["message_id"])
        found[:] = [message_id] if message_id else []
        return bool(found)

    await h.wait_for(correlated)
    return found[0]
