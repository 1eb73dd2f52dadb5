"""What the switch owes tenants, beyond SMPP binds: webhook delivery through the http
layer's sender, and outbox entries that outlive their tenant's outbox_ttl."""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from smsswitch.carrier.api import SubmitOutcome, SubmitResult
from smsswitch.config import WebhookConfig
from smsswitch.journal.records import OutboxKind
from smsswitch.routing import compile_routes
from smsswitch.smpp.pdu import DeliverSm
from tests.core.test_switch_units import BIND, DEST, TENANT, StubConnector, _until, request, routes, switch_with

MO_ROUTES = compile_routes(
    {"version": 1, "mt": [{"name": "main", "match": {}, "connectors": ["a"]}],
     "mo": [{"name": "kw", "match": {"to": ["60682"]}, "deliver": {"tenant": "acme", "via": ["webhook", "smpp"]}}]},
    ["acme"], ["a"],
)  # fmt: skip


class FakeWebhookChannel:
    """Stands in for smsswitch.http.webhooks.WebhookDispatcher: run by the switch, kicked
    after new entries are committed."""

    def __init__(self) -> None:
        self.counts = {"sent": 0}
        self.kicks = 0
        self.running = False
        self.tenants: dict = {}

    def kick(self) -> None:
        self.kicks += 1

    def set_tenants(self, tenants):  # type: ignore[no-untyped-def]
        self.tenants = dict(tenants)

    async def run(self) -> None:
        self.running = True
        await trio.sleep_forever()


async def test_mo_to_both_channels_owes_a_webhook_event_and_kicks_the_channel(tmp_path: Path) -> None:
    hooks = FakeWebhookChannel()
    acme = attrs.evolve(TENANT, deliver_via=("webhook",), webhook=WebhookConfig(url="http://127.0.0.1:1/hook"))
    with trio.fail_after(15):
        async with switch_with(tmp_path, {"a": StubConnector("a")}, MO_ROUTES, tenants=(acme,), webhooks=hooks) as (
            switch, journal,
        ):  # fmt: skip
            mo = DeliverSm(source_addr=DEST, source_addr_ton=1, destination_addr="60682", short_message=b"60682 hi")
            assert await switch.carrier_delivers("a", [mo]) == [0]
            entries = {e.kind: e for e in journal.outbox_for("acme")}
            assert set(entries) == {OutboxKind.MO, OutboxKind.WEBHOOK}  # the route asked for both
            event = entries[OutboxKind.WEBHOOK].payload
            assert (event["event"], event["from"], event["to"], event["text"]) == ("mo", "+" + DEST, "60682", "60682 hi")
            assert entries[OutboxKind.MO].payload["sm"] == b"60682 hi"
            assert hooks.running and hooks.kicks >= 1 and switch.stats()["webhooks"] == {"sent": 0}
            switch.set_tenants({"acme": attrs.evolve(acme, outbox_ttl=5.0)})
            assert hooks.tenants["acme"].outbox_ttl == 5.0 and switch.tenants["acme"].outbox_ttl == 5.0


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
