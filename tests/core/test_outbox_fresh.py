"""The outbox dispatcher's in-memory hand-over: receipts offered right after their commit
without being read back, the disk pager for everything else, and never an entry twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from smsswitch.carrier.api import SubmitOutcome, SubmitResult
from smsswitch.config import TenantConfig
from smsswitch.core import outbox as outbox_module
from smsswitch.core.outbox import OutboxDispatcher
from smsswitch.journal.journal import Journal, JournalConfig, open_journal
from smsswitch.journal.ops import AddOutbox
from smsswitch.journal.records import MessageState, OutboxEntry, OutboxKind
from smsswitch.server.api import BindInfo, OutboundDelivery
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import Tag
from smsswitch.smpp.pdu import DeliverSm
from tests.core.test_switch_units import BIND, DEST, StubConnector, _until, request, routes, switch_with

TENANT = TenantConfig(name="acme", system_id="acme", password_hash="x")


class FakeOutlet:
    """A receiver bind that takes up to `capacity` deliveries and remembers every offer."""

    def __init__(self, capacity: int = 1000) -> None:
        self.bind = BindInfo("r1", TENANT, "receiver", "127.0.0.1", 1)
        self.capacity = capacity
        self.pending: list[OutboundDelivery] = []
        self.offered: list[str] = []

    def offer(self, delivery: OutboundDelivery) -> bool:
        if len(self.pending) >= self.capacity:
            return False
        self.pending.append(delivery)
        self.offered.append(delivery.entry_id)
        return True

    def room(self) -> int:
        return self.capacity - len(self.pending)

    def take_all(self) -> list[tuple[str, int]]:
        """The tenant answers everything it holds with ESME_ROK."""
        answers = [(d.entry_id, int(S.ESME_ROK)) for d in self.pending]
        self.pending.clear()
        return answers


@asynccontextmanager
async def dispatcher(tmp_path: Path) -> AsyncIterator[tuple[OutboxDispatcher, Journal]]:
    async with open_journal(JournalConfig(path=tmp_path / "journal", sync=False)) as journal:
        yield OutboxDispatcher(journal, {"acme": TENANT}), journal


def entries(journal: Journal, count: int) -> list[OutboxEntry]:
    return [
        OutboxEntry(id=journal.new_id(), tenant="acme", kind=OutboxKind.RECEIPT, created=1.0,
                    payload={"src": "1", "dst": "2", "esm": 4, "sm": f"id:{n}".encode()})
        for n in range(count)
    ]  # fmt: skip


async def commit_fresh(d: OutboxDispatcher, journal: Journal, batch: list[OutboxEntry]) -> None:
    """What CarrierInbound does: claim, commit, hand over what landed."""
    d.claim(batch)
    results = await journal.commit([AddOutbox(e) for e in batch])
    d.hand_over(batch, {e.id for e, ok in zip(batch, results) if ok})


async def drain(d: OutboxDispatcher, outlet: FakeOutlet, passes: int = 50) -> None:
    """Dispatcher passes with a tenant that answers everything, until nothing is owed."""
    for _ in range(passes):
        await d.settle()
        d.fill(["acme"])
        answers = outlet.take_all()
        if not answers and not d.inflight:
            await d.settle()
            return
        d.answered(answers)
    raise AssertionError("outbox did not drain")


async def test_fresh_entries_are_offered_from_memory_once(tmp_path: Path) -> None:
    async with dispatcher(tmp_path) as (d, journal):
        outlet = FakeOutlet()
        d.outlet_up(outlet)  # type: ignore[arg-type]
        d.fill(["acme"])  # the bind's disk pass: nothing owed yet
        batch = entries(journal, 20)
        await commit_fresh(d, journal, batch)
        await drain(d, outlet)
        assert outlet.offered == [e.id for e in batch]
        assert d.counts["from_memory"] == 20
        assert journal.outbox_for("acme") == []


async def test_overrun_fresh_queue_falls_back_to_disk_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "FRESH_PER_TENANT", 5)
    async with dispatcher(tmp_path) as (d, journal):
        outlet = FakeOutlet(capacity=3)
        d.outlet_up(outlet)  # type: ignore[arg-type]
        d.fill(["acme"])
        batches = [entries(journal, 8) for _ in range(4)]
        for batch in batches:
            await commit_fresh(d, journal, batch)
            d.fill(["acme"])  # room for 3 each time: the rest waits in memory or on disk
        await drain(d, outlet)
        expected = sorted(e.id for batch in batches for e in batch)
        assert sorted(outlet.offered) == expected  # every one, exactly once
        assert d.counts["fresh_overflow"] > 0 and 0 < d.counts["from_memory"] < len(expected)
        assert journal.outbox_for("acme") == []


async def test_without_an_outlet_entries_wait_on_disk(tmp_path: Path) -> None:
    async with dispatcher(tmp_path) as (d, journal):
        batch = entries(journal, 4)
        await commit_fresh(d, journal, batch)
        assert d.depth()["fresh"] == 0  # nobody to give them to: not kept in memory
        outlet = FakeOutlet()
        d.outlet_up(outlet)  # type: ignore[arg-type]
        await drain(d, outlet)
        assert outlet.offered == [e.id for e in batch]
        assert d.counts["from_memory"] == 0


async def test_claimed_entries_are_left_to_the_hand_over(tmp_path: Path) -> None:
    async with dispatcher(tmp_path) as (d, journal):
        outlet = FakeOutlet()
        d.outlet_up(outlet)  # type: ignore[arg-type]
        batch = entries(journal, 3)
        d.claim(batch)
        results = await journal.commit([AddOutbox(e) for e in batch])
        d.notify("acme")  # a disk pass runs between the commit and the hand-over
        d.fill(["acme"])
        assert outlet.offered == []
        d.hand_over(batch, {e.id for e, ok in zip(batch, results) if ok})
        await drain(d, outlet)
        assert outlet.offered == [e.id for e in batch]


async def test_entries_that_did_not_land_are_never_offered(tmp_path: Path) -> None:
    async with dispatcher(tmp_path) as (d, journal):
        outlet = FakeOutlet()
        d.outlet_up(outlet)  # type: ignore[arg-type]
        batch = entries(journal, 2)
        d.claim(batch)
        await journal.commit([AddOutbox(batch[0])])
        d.hand_over(batch, {batch[0].id})  # e.g. the second was a duplicate receipt's
        await drain(d, outlet)
        assert outlet.offered == [batch[0].id]


async def test_unbind_drops_memory_and_the_next_bind_gets_them_from_disk(tmp_path: Path) -> None:
    async with dispatcher(tmp_path) as (d, journal):
        first = FakeOutlet(capacity=2)
        d.outlet_up(first)  # type: ignore[arg-type]
        d.fill(["acme"])
        batch = entries(journal, 6)
        await commit_fresh(d, journal, batch)
        d.fill(["acme"])
        assert first.offered == [e.id for e in batch[:2]]
        d.outlet_down(first, first.pending)  # type: ignore[arg-type]
        assert d.depth()["fresh"] == 0
        second = FakeOutlet()
        d.outlet_up(second)  # type: ignore[arg-type]
        await drain(d, second)
        assert second.offered == [e.id for e in batch]  # the unanswered two again, then the rest


async def test_duplicate_carrier_receipts_in_one_batch_reach_the_tenant_once(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            outlet = FakeOutlet()
            switch.outlet_up(outlet)  # type: ignore[arg-type]
            answers = await switch.submit(BIND, [request(), request()])
            await switch.submits_sent("a", a.jobs)
            await _until(lambda: all(journal.get(x.message_id).state is MessageState.SUBMITTED for x in answers))  # type: ignore[union-attr]
            await switch.submit_results("a", [
                SubmitResult(job, SubmitOutcome.ACCEPTED, carrier_message_id=f"C{n}") for n, job in enumerate(a.jobs)
            ])  # fmt: skip
            receipts = [
                DeliverSm(source_addr=DEST, destination_addr="Brand", esm_class=0x04,
                          tlvs={Tag.RECEIPTED_MESSAGE_ID: f"C{n}", Tag.MESSAGE_STATE: 2})
                for n in (0, 1, 0, 1)
            ]  # fmt: skip
            assert await switch.carrier_delivers("a", receipts) == [0] * 4
            await _until(lambda: len(outlet.offered) == 2)
            await trio.sleep(0.2)  # a disk pass or two more: still nothing else
            got = sorted(d.pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] for d in outlet.pending)
            assert got == sorted(x.message_id for x in answers)
            assert switch.outbox.counts["from_memory"] == 2
            switch.outbox.answered(outlet.take_all())
            await _until(lambda: journal.outbox_for("acme") == [])
