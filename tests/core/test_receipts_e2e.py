"""Submit over SMPP (smpplib), the carrier simulator answers and sends its receipt, the tenant
gets OUR receipt: our id in receipted_message_id and in the text, the state, the error."""

from __future__ import annotations

from pathlib import Path

import trio

from smsswitch.config import CarrierQuirks
from smsswitch.journal.records import MessageState
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import MessageState as Smpp
from tests.core.harness import DEST, running, sim_config
from tests.core.tenant import SmpplibTenant


async def _submit_and_receive(port: int, text: str, registered_delivery: int = 1, receipts: int = 1):  # type: ignore[no-untyped-def]
    client = SmpplibTenant(port, "acme")
    await trio.to_thread.run_sync(client.bind)
    try:
        status, message_id = await trio.to_thread.run_sync(lambda: client.submit(DEST, text, registered_delivery))
        deliveries = []
        if receipts:
            deliveries = await trio.to_thread.run_sync(client.wait_deliveries, receipts)
        return status, message_id, deliveries, client
    finally:
        await trio.to_thread.run_sync(client.close)


async def test_delivered_receipt_carries_our_id(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            status, message_id, deliveries, _ = await _submit_and_receive(h.port, "Hello from acme, OTP 1234")
            assert status == S.ESME_ROK and len(message_id) == 20
            (receipt,) = deliveries
            assert receipt.esm_class == 0x04
            assert receipt.receipted_message_id == message_id
            assert receipt.message_state == Smpp.DELIVERED
            assert receipt.network_error_code is None
            text = receipt.text.decode()
            assert text.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
            assert "stat:DELIVRD err:000" in text and text.endswith("Text:Hello from acme, OTP")
            assert (receipt.source, receipt.destination) == (DEST, "Brand")  # swapped, as SMSCs do
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 0)
            record = h.journal.get(message_id)
            assert record is not None and record.state is MessageState.DELIVERED
            assert [e.state for e in record.history][:2] == [MessageState.ACCEPTED, MessageState.QUEUED]
            assert MessageState.ENROUTE in [e.state for e in record.history]
            assert h.sim.received()[0]["destination"] == DEST


async def _one_outcome(tmp_path: Path, sim: dict, registered_delivery: int = 1):  # type: ignore[no-untyped-def]
    async with running(tmp_path, sim=sim_config(**sim)) as h:
        status, message_id, deliveries, _ = await _submit_and_receive(h.port, "outcome test", registered_delivery)
        assert status == S.ESME_ROK
        return h.state(message_id), message_id, deliveries


async def test_undeliverable_receipt_has_state_and_network_error(tmp_path: Path) -> None:
    with trio.fail_after(30):
        state, message_id, (receipt,) = await _one_outcome(tmp_path, {"final_states": (("UNDELIV", 1.0),)})
        assert state == "UNDELIVERABLE"
        assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.UNDELIVERABLE
        assert receipt.network_error_code == b"\x03\x00\x01"  # GSM, the carrier's err:001
        assert b"dlvrd:000" in receipt.text and b"stat:UNDELIV err:001" in receipt.text


async def test_rejected_by_the_carriers_receipt(tmp_path: Path) -> None:
    with trio.fail_after(30):
        state, message_id, (receipt,) = await _one_outcome(tmp_path, {"final_states": (("REJECTD", 1.0),)})
        assert state == "REJECTED"
        assert receipt.message_state == Smpp.REJECTED and b"stat:REJECTD" in receipt.text


async def test_permanent_submit_error_ends_rejected_with_the_carriers_status(tmp_path: Path) -> None:
    with trio.fail_after(30):
        sim = {"fail_fraction": 1.0, "fail_status": S.ESME_RINVDSTADR}
        state, message_id, (receipt,) = await _one_outcome(tmp_path, sim)
        assert state == "REJECTED"
        assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.REJECTED
        assert receipt.network_error_code == b"\x03\x00\x0b"
        assert b"stat:REJECTD err:011" in receipt.text


async def test_failure_only_receipts(tmp_path: Path) -> None:
    """registered_delivery 2: a receipt for the failure, none for the success."""
    with trio.fail_after(30):
        async with running(tmp_path, sim=sim_config(final_states=(("DELIVRD", 1.0),))) as h:
            status, ok_id, deliveries, _ = await _submit_and_receive(h.port, "fine", 2, receipts=0)
            await h.wait_for(lambda: h.state(ok_id) == "DELIVERED")
            assert h.switch.stats()["outbox_depth"] == 0 and deliveries == []
        async with running(tmp_path / "b", sim=sim_config(final_states=(("UNDELIV", 1.0),))) as h:
            status, bad_id, deliveries, _ = await _submit_and_receive(h.port, "bad", 2, receipts=1)
            assert [d.receipted_message_id for d in deliveries] == [bad_id]


async def test_no_receipt_when_not_asked(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            _, message_id, _, _ = await _submit_and_receive(h.port, "quiet", 0, receipts=0)
            await h.wait_for(lambda: h.state(message_id) == "DELIVERED")
            assert h.journal.counts()["outbox"] == 0


async def test_receipt_before_submit_resp_and_decimal_ids(tmp_path: Path) -> None:
    """The carrier sends the receipt before its submit_sm_resp, and writes its id in decimal
    in the receipt but hex in the response: parked, then matched."""
    with trio.fail_after(30):
        sim = sim_config(receipt_before_response=True, id_format="hex", receipt_id_format="decimal")
        async with running(tmp_path, sim=sim) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "race")
            assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.DELIVERED
            stats = h.switch.stats()
            assert stats["receipts_in"].get("parked", 0) >= 1 and stats["parked_receipts"] == 0


async def test_hex_ids_in_receipts_for_decimal_responses(tmp_path: Path) -> None:
    with trio.fail_after(30):
        sim = sim_config(id_format="decimal", receipt_id_format="hex", receipts_in="text")
        async with running(tmp_path, sim=sim, connector={"quirks": _quirks(receipts_in="text")}) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "hex")
            assert receipt.receipted_message_id == message_id
            assert h.switch.stats()["receipts_in"]["matched"] == 1


async def test_tenant_binds_only_after_the_receipt_arrived(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            sender = SmpplibTenant(h.port, "acme", "transmitter")
            await trio.to_thread.run_sync(sender.bind)
            ids = []
            for n in range(3):
                status, message_id = await trio.to_thread.run_sync(sender.submit, DEST, f"later {n}")
                ids.append(message_id)
            await trio.to_thread.run_sync(sender.close)
            await h.wait_for(lambda: all(h.state(i) == "DELIVERED" for i in ids))
            assert h.switch.stats()["outbox_depth"] == 3  # waiting on disk for a receiver
            receiver = SmpplibTenant(h.port, "acme", "receiver")
            await trio.to_thread.run_sync(receiver.bind)
            deliveries = await trio.to_thread.run_sync(receiver.wait_deliveries, 3)
            await trio.to_thread.run_sync(receiver.close)
            assert [d.receipted_message_id for d in deliveries] == ids  # oldest first
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 0)


def _quirks(**kw):  # type: ignore[no-untyped-def]
    return CarrierQuirks(**kw)



async def test_transient_failures_fail_over_to_the_next_carrier(tmp_path: Path) -> None:
    """Carrier a answers every submit with ESME_RSYSERR (transient): its connector gives up
    after max_attempts and the message goes to carrier b, the route's next connector."""
    sims = {
        "a": sim_config(fail_fraction=1.0, fail_status=S.ESME_RSYSERR),
        "b": sim_config(),
    }
    routes = {"version": 1, "mt": [{"name": "both", "match": {}, "connectors": ["a", "b"]}]}
    with trio.fail_after(30):
        async with running(tmp_path, sims=sims, routes=routes) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "fail over")
            assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.DELIVERED
            record = h.journal.get(message_id)
            assert record is not None and record.connector == "b"
            assert any((e.detail or "").startswith("failover from a") for e in record.history)
            assert h.sims["a"].stats()["failed"] >= 2 and len(h.sims["b"].received()) == 1
            assert h.switch.stats()["failovers"] == 1


async def test_a_refusal_listed_in_failover_on_fails_over_instead_of_ending(tmp_path: Path) -> None:
    """Carrier a refuses the number (ESME_RINVDSTADR, permanent): with failover_on naming that
    status, the message goes on to carrier b and is delivered; without it, it ends REJECTED."""
    sims = {"a": sim_config(fail_fraction=1.0, fail_status=S.ESME_RINVDSTADR), "b": sim_config()}
    routes = {"version": 1, "mt": [{"name": "both", "match": {}, "connectors": ["a", "b"]}]}
    with trio.fail_after(30):
        listed = {"a": {"failover_on": frozenset({int(S.ESME_RINVDSTADR)})}}
        async with running(tmp_path / "listed", sims=sims, routes=routes, per_connector=listed) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "not over a")
            assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.DELIVERED
            record = h.journal.get(message_id)
            assert record is not None and record.connector == "b"
            assert any((e.detail or "").startswith("failover from a") for e in record.history)
            assert h.sims["a"].stats()["failed"] == 1  # refused once: a refusal is not retried
        async with running(tmp_path / "unlisted", sims=sims, routes=routes) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "a says never")
            assert receipt.message_state == Smpp.REJECTED
            record = h.journal.get(message_id)
            assert record is not None and record.state is MessageState.REJECTED
            assert len(h.sims["b"].received()) == 0


async def test_a_failover_on_refusal_with_no_other_carrier_ends_rejected(tmp_path: Path) -> None:
    sims = {"a": sim_config(fail_fraction=1.0, fail_status=S.ESME_RINVDSTADR)}
    routes = {"version": 1, "mt": [{"name": "only-a", "match": {}, "connectors": ["a"]}]}
    listed = {"a": {"failover_on": frozenset({int(S.ESME_RINVDSTADR)})}}
    with trio.fail_after(30):
        async with running(tmp_path, sims=sims, routes=routes, per_connector=listed) as h:
            _, message_id, (receipt,), _ = await _submit_and_receive(h.port, "nowhere else")
            assert receipt.message_state == Smpp.REJECTED
            record = h.journal.get(message_id)
            assert record is not None and record.state is MessageState.REJECTED and record.error == S.ESME_RINVDSTADR
