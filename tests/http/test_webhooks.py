"""Webhook delivery against a real local HTTP receiver: signatures, retries, Retry-After,
dead letters and redrive, permanent refusals, isolation between tenants."""

from __future__ import annotations

import random
import time
from typing import Any

import trio

from smsswitch.config import TenantConfig, WebhookConfig
from smsswitch.core.owed import webhook_receipt
from smsswitch.http.callbacks import CallbackStore
from smsswitch.http.retry import RetryPolicy
from smsswitch.http.signing import verify
from smsswitch.http.webhooks import WebhookDispatcher
from smsswitch.journal import retention
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import AddOutbox, PutMessage
from smsswitch.journal.records import MessageRecord, MessageState, OutboxEntry, OutboxKind
from tests.http.receiver import Receiver, Seen, scripted

SECRET = "s3cret"
FAST = RetryPolicy(base=0.02, cap=0.05)


def tenant(name: str, url: str, **hook: Any) -> TenantConfig:
    values: dict[str, Any] = dict(url=url, secret=SECRET, timeout=2.0, max_attempts=5)
    values.update(hook)
    return TenantConfig(name=name, system_id=name, password_hash="x", deliver_via=("webhook",),
                        webhook=WebhookConfig(**values))  # fmt: skip


async def owe_receipt(journal: Journal, name: str = "acme", dest: str = "+263771234567") -> OutboxEntry:
    now = time.time()
    record = MessageRecord(id=journal.new_id(), tenant=name, source="ACME", destination=dest, created=now - 2,
                           connector="sim", client_ref="order-7", registered_delivery=1)  # fmt: skip
    entry = OutboxEntry(
        id=journal.new_id(), tenant=name, kind=OutboxKind.WEBHOOK,
        payload=webhook_receipt(record, MessageState.DELIVERED, 0, now), created=now, next_attempt=now,
        expires=now + 3600, msisdn=dest, message_id=record.id,
    )  # fmt: skip
    await journal.commit([PutMessage(record), AddOutbox(entry)])
    return entry


async def owe_mo(journal: Journal, name: str = "acme") -> OutboxEntry:
    now = time.time()
    payload = {"event": "mo", "from": "+263771234567", "to": "60682", "text": "JOIN now", "keyword": "JOIN",
               "connector": "sim", "received": now}  # fmt: skip
    entry = OutboxEntry(id=journal.new_id(), tenant=name, kind=OutboxKind.WEBHOOK, payload=payload, created=now,
                        next_attempt=now, expires=now + 3600, msisdn="+263771234567")  # fmt: skip
    await journal.commit([AddOutbox(entry)])
    return entry


def dispatcher(journal: Journal, *tenants: TenantConfig, **kw: Any) -> WebhookDispatcher:
    kw.setdefault("policy", FAST)
    return WebhookDispatcher(journal, {t.name: t for t in tenants}, rng=random.Random(1), idle_pass=0.02, **kw)


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_signed_receipt_and_mo_in_the_versioned_schema(journal: Journal) -> None:
    async with trio.open_nursery() as nursery:
        receiver = await Receiver().start(nursery)
        receipt = await owe_receipt(journal)
        mo = await owe_mo(journal)
        nursery.start_soon(dispatcher(journal, tenant("acme", receiver.url)).run)
        seen = await receiver.wait_for(2)
        await wait_until(lambda: journal.get_outbox(receipt.id) is None and journal.get_outbox(mo.id) is None)
        nursery.cancel_scope.cancel()
    by_type = {s.json()["type"]: s for s in seen}
    for s in seen:
        assert verify(SECRET, s.headers["x-smsswitch-signature"], s.body, time.time())
        assert not verify("wrong", s.headers["x-smsswitch-signature"], s.body, time.time())
        assert not verify(SECRET, s.headers["x-smsswitch-signature"], s.body + b" ", time.time())
        assert not verify(SECRET, s.headers["x-smsswitch-signature"], s.body, time.time() + 3600)  # replay
        assert s.headers["idempotency-key"] == s.json()["eventId"] == s.headers["x-smsswitch-event-id"]
    r = by_type["receipt"].json()
    assert r["schemaVersion"] == 1 and r["eventId"] == receipt.id
    assert (r["messageId"], r["fromNumber"], r["toNumber"]) == (receipt.message_id, "ACME", "+263771234567")
    assert (r["status"], r["errorCode"], r["carrier"], r["clientReference"], r["parts"]) == ("DELIVRD", 0, "sim", "order-7", 1)
    assert r["timestamp"].endswith("Z") and r["submittedAt"].endswith("Z")
    m = by_type["mo"].json()
    assert (m["fromNumber"], m["toNumber"], m["content"], m["keyword"], m["status"]) == (
        "+263771234567", "60682", "JOIN now", "JOIN", "RECEIVED")
    assert by_type["mo"].headers["x-smsswitch-event"] == "mo"


async def test_retries_on_500_429_and_timeout_then_delivered_once(journal: Journal) -> None:
    async with trio.open_nursery() as nursery:
        receiver = await Receiver(scripted(500, (429, {"Retry-After": "0"}), 1.5, 503, 200)).start(nursery)
        entry = await owe_receipt(journal)
        nursery.start_soon(dispatcher(journal, tenant("acme", receiver.url, timeout=0.3, max_attempts=6)).run)
        await wait_until(lambda: journal.get_outbox(entry.id) is None, timeout=15)
        nursery.cancel_scope.cancel()
    attempts = [s.headers["x-smsswitch-attempt"] for s in receiver.seen]
    assert attempts == ["1", "2", "3", "4", "5"]
    assert {s.headers["idempotency-key"] for s in receiver.seen} == {entry.id}
    assert journal.dead_letters() == []


async def test_retry_after_is_honoured_and_kept_in_the_journal(journal: Journal) -> None:
    async with trio.open_nursery() as nursery:
        receiver = await Receiver(scripted((429, {"Retry-After": "600"}))).start(nursery)
        entry = await owe_receipt(journal)
        nursery.start_soon(dispatcher(journal, tenant("acme", receiver.url)).run)
        await wait_until(lambda: (e := journal.get_outbox(entry.id)) is not None and e.attempts == 1)
        await trio.sleep(0.2)  # several passes: nothing is sent before the Retry-After time
        nursery.cancel_scope.cancel()
    after = journal.get_outbox(entry.id)
    assert after is not None and after.next_attempt >= time.time() + 590
    assert len(receiver.seen) == 1


async def test_dead_letter_after_max_attempts_then_redrive_delivers(journal: Journal) -> None:
    answers: list[int] = [503, 503, 503]

    async def respond(_seen: Seen) -> tuple[int, dict[str, str]]:
        return (answers.pop(0) if answers else 200), {}

    async with trio.open_nursery() as nursery:
        receiver = await Receiver(respond).start(nursery)
        entry = await owe_receipt(journal)
        d = dispatcher(journal, tenant("acme", receiver.url, max_attempts=3))
        nursery.start_soon(d.run)
        await wait_until(lambda: len(journal.dead_letters()) == 1)
        letter = journal.dead_letters()[0]
        assert letter.id == entry.id and journal.get_outbox(entry.id) is None
        assert "gave up after 3 attempts" in letter.reason and "HTTP 503" in letter.reason
        assert len(receiver.seen) == 3 and d.counts["dead"] == 1
        assert await retention.redrive(journal, [entry.id]) == [entry.id]
        d.kick()
        await wait_until(lambda: journal.get_outbox(entry.id) is None and len(receiver.seen) == 4)
        nursery.cancel_scope.cancel()
    assert journal.dead_letters() == [] and d.counts["sent"] == 1
    assert receiver.seen[-1].headers["idempotency-key"] == entry.id


async def test_permanent_4xx_dead_letters_at_once(journal: Journal) -> None:
    async with trio.open_nursery() as nursery:
        receiver = await Receiver(scripted(410)).start(nursery)
        entry = await owe_receipt(journal)
        nursery.start_soon(dispatcher(journal, tenant("acme", receiver.url)).run)
        await wait_until(lambda: len(journal.dead_letters()) == 1)
        nursery.cancel_scope.cancel()
    assert len(receiver.seen) == 1
    assert journal.dead_letters()[0].id == entry.id and "HTTP 410" in journal.dead_letters()[0].reason


async def test_slow_endpoint_does_not_block_other_tenants(journal: Journal) -> None:
    release = trio.Event()

    async def hang(_seen: Seen) -> tuple[int, dict[str, str]]:
        await release.wait()
        return 200, {}

    async with trio.open_nursery() as nursery:
        slow = await Receiver(hang).start(nursery)
        fast = await Receiver().start(nursery)
        for _ in range(20):
            await owe_receipt(journal, "slow")
        for _ in range(20):
            await owe_receipt(journal, "fast")
        d = dispatcher(journal, tenant("slow", slow.url, timeout=30.0), tenant("fast", fast.url), concurrency=3)
        nursery.start_soon(d.run)
        await fast.wait_for(20)
        await wait_until(lambda: not journal.outbox_for("fast"))
        assert len(slow.seen) == 3  # exactly its concurrency, the rest wait on disk
        assert len(journal.outbox_for("slow")) == 20
        release.set()
        await wait_until(lambda: not journal.outbox_for("slow"))
        nursery.cancel_scope.cancel()
    assert len(slow.seen) == 20


async def test_unsubscribed_events_are_dropped_and_callback_url_overrides(journal: Journal) -> None:
    async with trio.open_nursery() as nursery:
        receiver = await Receiver().start(nursery)
        other = await Receiver().start(nursery)
        mo = await owe_mo(journal)
        receipt = await owe_receipt(journal)
        callbacks = CallbackStore(journal)
        await journal.commit([callbacks.op(receipt.message_id, other.url.replace("/hook", "/cb"))])
        d = dispatcher(journal, tenant("acme", receiver.url, events=("receipt",)), callbacks=callbacks)
        nursery.start_soon(d.run)
        await wait_until(lambda: not journal.outbox_for("acme"))
        nursery.cancel_scope.cancel()
    assert receiver.seen == [] and [s.path for s in other.seen] == ["/cb"]
    assert d.counts["filtered"] == 1 and journal.get_outbox(mo.id) is None


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    policy = RetryPolicy(base=1.0, cap=100.0)
    rng = random.Random(3)
    delays = [policy.delay(n, None, rng) for n in range(1, 10)]
    for n, d in enumerate(delays, start=1):
        full = min(100.0, 2 ** (n - 1))
        assert full / 2 <= d <= full
    assert policy.delay(1, 30.0, rng) >= 30.0
    assert policy.delay(1, 10**9, rng) <= policy.max_retry_after
