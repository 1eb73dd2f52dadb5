"""Webhooks from the real switch: an MT's receipt to the tenant's URL (or the message's
callbackUrl), an MO to the tenant's URL, dead letter and redrive through the API."""

from __future__ import annotations

import time
from pathlib import Path

from smsswitch.config import WebhookConfig
from smsswitch.http import audit
from smsswitch.http.signing import verify
from tests.http.receiver import Receiver, scripted
from tests.http.stack import DEST, SHORT_CODE, running, tenant

SECRET = "hook-secret"


async def test_receipt_and_mo_webhooks_from_the_switch(tmp_path: Path, nursery) -> None:  # type: ignore[no-untyped-def]
    hooks = await Receiver().start(nursery)
    callbacks = await Receiver().start(nursery)
    acme = tenant("acme", deliver_via=("webhook",), webhook=WebhookConfig(url=hooks.url, secret=SECRET))
    async with running(tmp_path, tenants=(acme, tenant("beta"), tenant("ops"))) as stack, stack.client("acme-send") as http:
        first = (await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "a"})).json()["messageId"]
        second = (await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "b",
                                                         "callbackUrl": callbacks.url})).json()["messageId"]  # fmt: skip
        await stack.sim.inject_mo(DEST[1:], SHORT_CODE, "hello")
        await hooks.wait_for(2)
        await callbacks.wait_for(1)
        await stack.wait_for(lambda: not stack.journal.outbox_for("acme"))
    events = {s.json()["type"]: s.json() for s in hooks.seen}
    assert events["receipt"]["messageId"] == first and events["receipt"]["status"] == "DELIVRD"
    assert events["mo"]["content"] == "hello" and events["mo"]["fromNumber"] == DEST
    assert callbacks.seen[0].json()["messageId"] == second
    for seen in hooks.seen + callbacks.seen:
        assert verify(SECRET, seen.headers["x-smsswitch-signature"], seen.body, time.time())


async def test_dead_lettered_webhook_is_redriven_through_the_api(tmp_path: Path, nursery) -> None:  # type: ignore[no-untyped-def]
    hooks = await Receiver(scripted(500, 500)).start(nursery)
    acme = tenant("acme", deliver_via=("webhook",), webhook=WebhookConfig(url=hooks.url, max_attempts=2))
    async with running(tmp_path, tenants=(acme, tenant("beta"), tenant("ops"))) as stack:
        await stack.sim.inject_mo(DEST[1:], SHORT_CODE, "hello")
        await stack.wait_for(lambda: len(stack.journal.dead_letters()) == 1)
        letter = stack.journal.dead_letters()[0]
        assert "gave up after 2 attempts; last: HTTP 500" in letter.reason
        async with stack.client("ops") as ops:
            r = await ops.post(f"/v1/admin/dead-letters/{letter.id}/redrive")
        assert (r.status_code, r.json()) == (200, {"redriven": [letter.id]})
        await hooks.wait_for(3)
        await stack.wait_for(lambda: not stack.journal.outbox_for("acme") and not stack.journal.dead_letters())
        assert {s.headers["idempotency-key"] for s in hooks.seen} == {letter.id}
        assert [(e.actor, e.action, e.target) for e in audit.entries(stack.journal)] == [("ops", "redrive", letter.id)]
