"""What the switch owes tenants, beyond SMPP binds: webhook delivery through the http
layer's sender, and outbox entries that outlive their tenant's outbox_ttl."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from smsswitch.carrier.api import SubmitOutcome, SubmitResult
from smsswitch.config import WebhookConfig
from smsswitch.journal.records import OutboxEntry, OutboxKind
from smsswitch.routing import compile_routes
from smsswitch.smpp.pdu import DeliverSm
from tests.core.test_switch_units import BIND, DEST, TENANT, StubConnector, _until, request, routes, switch_with

MO_ROUTES = compile_routes(
    {"version": 1, "mt": [{"name": "main", "match": {}, "connectors": ["a"]}],
     "mo": [{"name": "kw", "match": {"to": ["60682"]}, "deliver": {"tenant": "acme", "via": ["webhook", "smpp"]}}]},
    ["acme"], ["a"],
)  # fmt: skip


class FakeWebhooks:
    def __init__(self) -> None:
        self.ok = False
        self.calls: list[list[OutboxEntry]] = []

    async def send(self, tenant, entries):  # type: ignore[no-untyped-def]
        self.calls.append(list(entries))
        return [self.ok] * len(entries)


async def test_mo_and_receipts_go_to_the_webhook_and_retry_until_acknowledged(tmp_path: Path) -> None:
    hooks = FakeWebhooks()
    acme = attrs.evolve(TENANT, deliver_via=("webhook",), webhook=WebhookConfig(url="http://127.0.0.1:1/hook"))
    with trio.fail_after(15):
        async with switch_with(tmp_path, {"a": StubConnector("a")}, MO_ROUTES, tenants=(acme,), webhooks=hooks) as (
            switch, journal,
        ):  # fmt: skip
            mo = DeliverSm(source_addr=DEST, source_addr_ton=1, destination_addr="60682", short_message=b"60682 hi")
            assert await switch.carrier_delivers("a", [mo]) == [0]
            kinds = sorted(e.kind.value for e in journal.outbox_for("acme"))
            assert kinds == ["mo", "webhook"]  # the route asked for both channels
            await _until(lambda: len(hooks.calls) >= 1)
            event = hooks.calls[0][0].payload
            assert (event["event"], event["from"], event["to"], event["text"]) == ("mo", "+" + DEST, "60682", "60682 hi")
            await _until(lambda: journal.outbox_for("acme")[-1].attempts >= 1)  # refused: rescheduled
            hooks.ok = True
            entry = next(e for e in journal.outbox_for("acme") if e.kind is OutboxKind.WEBHOOK)
            await _until(lambda: entry.id not in {e.id for e in journal.outbox_for("acme")}, timeout=10)  # after backoff


async def test_outbox_entries_past_their_ttl_become_dead_letters(tmp_path: Path) -> None:
    short = attrs.evolve(TENANT, outbox_ttl=0.5)
    a = StubConnector("a")
    with trio.fail_after(15):
        async with switch_with(tmp_path, {"a": a}, routes("a"), tenants=(short,)) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            receipt = DeliverSm(esm_class=0x04, short_message=b"id:5 sub:001 dlvrd:001 stat:DELIVRD err:000")
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="5")])
            await switch.carrier_delivers("a", [receipt])
            assert len(journal.outbox_for("acme")) == 1
            await _until(lambda: journal.counts()["dead_letters"] == 1, timeout=5)
            (letter,) = journal.dead_letters()
            assert letter.entry is not None and letter.entry.message_id == answer.message_id
            assert "outbox_ttl" in letter.reason and journal.outbox_for("acme") == []
