"""Restart: close everything, reopen the journal, a new Switch - unfinished messages are sent
exactly once, receipts owed wait for their tenant, and what expired meanwhile ends."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from smsswitch.core.owed import PARKED_TENANT
from smsswitch.journal.journal import JournalConfig, open_journal
from smsswitch.journal.ops import AddOutbox, PutMessage
from smsswitch.journal.records import HistoryEntry, MessageRecord, MessageState, OutboxEntry, OutboxKind
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import MessageState as Smpp
from tests.core.harness import DEST, running, sim_config
from tests.core.tenant import SmpplibTenant


async def _submit_many(port: int, texts: list[str], registered_delivery: int = 1) -> list[str]:
    client = SmpplibTenant(port, "acme", "transmitter")
    await trio.to_thread.run_sync(client.bind)
    try:
        ids = []
        for text in texts:
            status, message_id = await trio.to_thread.run_sync(client.submit, DEST, text, registered_delivery)
            assert status == S.ESME_ROK
            ids.append(message_id)
        return ids
    finally:
        await trio.to_thread.run_sync(client.close)


async def test_queued_messages_are_sent_exactly_once_after_restart(tmp_path: Path) -> None:
    texts = [f"queued {n}" for n in range(6)]
    with trio.fail_after(40):
        # Run 1: the carrier refuses binds, so nothing leaves; messages stay QUEUED.
        async with running(tmp_path, sim=sim_config(refuse_binds_for=60), wait_bound=False) as h:
            ids = await _submit_many(h.port, texts)
            assert {h.state(i) for i in ids} == {"QUEUED"}
        # Run 2: same journal, a healthy carrier.
        async with running(tmp_path) as h:
            assert h.switch.replayed is not None and h.switch.replayed.queued == len(ids)
            await h.wait_for(lambda: all(h.state(i) == "DELIVERED" for i in ids))
            await trio.sleep(0.3)  # anything sent twice would show by now
            assert sorted(r["text"] for r in h.sim.received()) == sorted(texts)
            assert h.sim.stats()["duplicates"] == 0
            assert h.journal.check() == []


async def test_submitted_messages_are_resent_once_and_counted(tmp_path: Path) -> None:
    texts = [f"on the wire {n}" for n in range(4)]
    with trio.fail_after(40):
        # Run 1: the carrier takes the submits but never answers in time.
        async with running(tmp_path, sim=sim_config(response_delay=30.0), connector={"response_timeout": 30.0}) as h:
            ids = await _submit_many(h.port, texts)
            await h.wait_for(lambda: all(h.state(i) == "SUBMITTED" for i in ids))
        async with running(tmp_path) as h:
            assert h.switch.replayed is not None and h.switch.replayed.resent == len(ids)
            assert h.switch.stats()["replayed_resent"] == len(ids)
            await h.wait_for(lambda: all(h.state(i) == "DELIVERED" for i in ids))
            await trio.sleep(0.3)
            assert sorted(r["text"] for r in h.sim.received()) == sorted(texts)
            assert h.sim.stats()["duplicates"] == 0
            history = [e.detail for e in h.journal.get(ids[0]).history]  # type: ignore[union-attr]
            assert "replay: resend after restart" in history


async def test_receipts_owed_survive_a_restart(tmp_path: Path) -> None:
    with trio.fail_after(40):
        async with running(tmp_path) as h:
            ids = await _submit_many(h.port, ["a", "b"])
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 2)
        async with running(tmp_path) as h:
            assert h.switch.replayed is not None and h.switch.replayed.outbox == 2
            receiver = SmpplibTenant(h.port, "acme", "receiver")
            await trio.to_thread.run_sync(receiver.bind)
            try:
                deliveries = await trio.to_thread.run_sync(receiver.wait_deliveries, 2)
            finally:
                await trio.to_thread.run_sync(receiver.close)
            assert [d.receipted_message_id for d in deliveries] == ids
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 0)
            assert h.sim.stats()["submits_received"] == 0  # nothing was sent again


async def test_expired_during_downtime_and_parked_receipt_reloaded(tmp_path: Path) -> None:
    """Written while the switch was down: a QUEUED message whose validity has passed (ends
    EXPIRED with its receipt, never sent) and a parked receipt that a restart reloads and
    dead-letters when its ttl passes."""
    now = time.time()
    record = MessageRecord(
        id="0" * 19 + "1", tenant="acme", source="Brand", destination="+" + DEST, created=now - 100,
        state=MessageState.QUEUED, source_ton=5, dest_ton=1, dest_npi=1, payload=b"stale",
        registered_delivery=1, validity=now - 10, connector="sim",
        history=(HistoryEntry(MessageState.ACCEPTED, now - 100), HistoryEntry(MessageState.QUEUED, now - 100)),
    )  # fmt: skip
    parked = OutboxEntry(
        id="0" * 19 + "2", tenant=PARKED_TENANT, kind=OutboxKind.RECEIPT, created=now - 5, expires=now - 4,
        payload={"connector": "sim", "carrier_id": "ffff", "state": int(MessageState.DELIVERED), "error": 0,
                 "stat": "DELIVRD"},
    )  # fmt: skip
    with trio.fail_after(30):
        async with open_journal(JournalConfig(path=tmp_path / "journal", sync=False)) as journal:
            await journal.commit([PutMessage(record), AddOutbox(parked)])
        async with running(tmp_path, unmatched_receipt_ttl=1.0) as h:
            assert h.switch.replayed is not None and h.switch.replayed.parked == 1
            client = SmpplibTenant(h.port, "acme", "receiver")
            await trio.to_thread.run_sync(client.bind)
            try:
                (receipt,) = await trio.to_thread.run_sync(client.wait_deliveries, 1)
            finally:
                await trio.to_thread.run_sync(client.close)
            assert receipt.receipted_message_id == record.id and receipt.message_state == Smpp.EXPIRED
            assert h.state(record.id) == "EXPIRED" and h.sim.received() == []
            await h.wait_for(lambda: h.switch.stats()["parked_receipts"] == 0)
            (letter,) = h.journal.dead_letters()
            assert letter.id == parked.id and letter.reason == "unmatched receipt"
