"""query_sm, cancel_sm, replace_sm against the journal; scheduled delivery; validity expiry."""

from __future__ import annotations

from pathlib import Path

import trio

from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import MessageState as Smpp
from smsswitch.smpp.pdu import CancelSm, QuerySm, ReplaceSm, SubmitSm
from tests.core.harness import DEST, RawTenant, running, sim_config
from tests.core.tenant import SmpplibTenant

IN_A_MINUTE = "000000000100000R"
IN_A_SECOND = "000000000001000R"


def _submit(text: str, **fields: object) -> SubmitSm:
    values: dict = dict(source_addr="Brand", source_addr_ton=5, destination_addr=DEST, dest_addr_ton=1,
                        dest_addr_npi=1, short_message=text.encode(), registered_delivery=1)  # fmt: skip
    values.update(fields)
    return SubmitSm(**values)


async def test_query_cancel_and_replace(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            acme = await RawTenant.bound(h.port, "acme")
            beta = await RawTenant.bound(h.port, "beta")
            try:
                later = await acme.request(_submit("scheduled", schedule_delivery_time=IN_A_MINUTE))
                doomed = await acme.request(_submit("to cancel", schedule_delivery_time=IN_A_MINUTE))
                now = await acme.request(_submit("right away"))
                assert [p.command_status for p in (later, doomed, now)] == [0, 0, 0]
                await h.wait_for(lambda: h.state(now.message_id) == "DELIVERED")

                query = await acme.request(QuerySm(message_id=later.message_id, source_addr="Brand", source_addr_ton=5))
                assert (query.command_status, query.message_state, query.final_date) == (0, Smpp.ENROUTE, "")
                query = await acme.request(QuerySm(message_id=now.message_id, source_addr="Brand", source_addr_ton=5))
                assert (query.command_status, query.message_state) == (0, Smpp.DELIVERED) and query.final_date
                foreign = await beta.request(QuerySm(message_id=now.message_id, source_addr="Brand"))
                assert foreign.command_status == S.ESME_RQUERYFAIL

                cancel = await acme.request(CancelSm(message_id=doomed.message_id, source_addr="Brand",
                                                     destination_addr=DEST))  # fmt: skip
                assert cancel.command_status == S.ESME_ROK and h.state(doomed.message_id) == "DELETED"
                again = await acme.request(CancelSm(message_id=doomed.message_id, source_addr="Brand"))
                assert again.command_status == S.ESME_RCANCELFAIL
                sent = await acme.request(CancelSm(message_id=now.message_id, source_addr="Brand"))
                assert sent.command_status == S.ESME_RCANCELFAIL
                foreign = await beta.request(CancelSm(message_id=later.message_id, source_addr="Brand"))
                assert foreign.command_status == S.ESME_RCANCELFAIL

                too_late = await acme.request(ReplaceSm(message_id=now.message_id, source_addr="Brand",
                                                        short_message=b"nope"))  # fmt: skip
                assert too_late.command_status == S.ESME_RREPLACEFAIL
                replace = await acme.request(
                    ReplaceSm(message_id=later.message_id, source_addr="Brand", source_addr_ton=5,
                              short_message=b"replaced text", schedule_delivery_time=IN_A_SECOND,
                              registered_delivery=1)
                )  # fmt: skip
                assert replace.command_status == S.ESME_ROK
                await h.wait_for(lambda: h.state(later.message_id) == "DELIVERED")
                texts = [r["text"] for r in h.sim.received()]
                assert sorted(texts) == ["replaced text", "right away"]  # the cancelled one never went
            finally:
                await acme.aclose()
                await beta.aclose()


async def test_scheduled_message_waits_for_its_time(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            acme = await RawTenant.bound(h.port, "acme")
            try:
                answer = await acme.request(_submit("soon", schedule_delivery_time="000000000002000R"))
                await trio.sleep(0.5)
                assert h.state(answer.message_id) == "QUEUED" and h.sim.received() == []
                await h.wait_for(lambda: h.state(answer.message_id) == "DELIVERED", timeout=10)
            finally:
                await acme.aclose()


async def test_validity_passes_before_a_carrier_takes_it(tmp_path: Path) -> None:
    """The carrier refuses binds: the message waits in the connector's queue and ends
    EXPIRED, with an EXPIRED receipt, when its validity passes."""
    with trio.fail_after(30):
        async with running(tmp_path, sim=sim_config(refuse_binds_for=60), wait_bound=False) as h:
            client = SmpplibTenant(h.port, "acme")
            await trio.to_thread.run_sync(client.bind)
            try:
                status, message_id = await trio.to_thread.run_sync(
                    lambda: client.submit(DEST, "too late", 1, validity_period="000000000001000R")
                )
                assert status == S.ESME_ROK
                (receipt,) = await trio.to_thread.run_sync(client.wait_deliveries, 1)
            finally:
                await trio.to_thread.run_sync(client.close)
            assert receipt.receipted_message_id == message_id and receipt.message_state == Smpp.EXPIRED
            assert b"stat:EXPIRED" in receipt.text
            assert h.state(message_id) == "EXPIRED" and h.sim.received() == []
