"""The Switch against a real LMDB journal with stub connectors, driven through its sink
methods directly: decisions that are hard to provoke over the wire."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from smsswitch.carrier.api import SubmitJob, SubmitOutcome, SubmitResult
from smsswitch.config import ConnectorConfig, DaemonConfig, TenantConfig
from smsswitch.core import Switch
from smsswitch.journal.errors import JournalFullError
from smsswitch.journal.journal import Journal, JournalConfig, open_journal
from smsswitch.journal.records import MessageState
from smsswitch.numbers import parse_number
from smsswitch.routing import compile_routes
from smsswitch.server.api import BindInfo, SubmitRequest
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.constants import Tag
from smsswitch.smpp.pdu import DeliverSm

DEST = "263771234567"
TENANT = TenantConfig(name="acme", system_id="acme", password_hash="x", default_region="ZW")
BIND = BindInfo("b1", TENANT, "transceiver", "127.0.0.1", 1)


class StubConnector:
    def __init__(self, name: str, *, accept: bool = True, bound: bool = True) -> None:
        self.name = name
        self.accept = accept
        self.bound = bound
        self.jobs: list[SubmitJob] = []

    def try_submit(self, job: SubmitJob) -> bool:
        if self.accept:
            self.jobs.append(job)
        return self.accept

    def health(self) -> Any:
        return types.SimpleNamespace(sessions_bound=1 if self.bound else 0)


def routes(*connectors: str, extra: list | None = None) -> Any:
    mt = list(extra or []) + [{"name": "main", "match": {"prefixes": ["+263"]}, "connectors": list(connectors)}]
    return compile_routes({"version": 1, "mt": mt}, ["acme"], ["a", "b"])


def request(dest: str = DEST, text: str = "hi", registered_delivery: int = 1) -> SubmitRequest:
    return SubmitRequest(
        source=parse_number("Brand", 5, 0), destination=parse_number(dest, 1, 1, "ZW"),
        source_ton=5, source_npi=0, dest_ton=1, dest_npi=1, data_coding=0, esm_class=0,
        payload=text.encode(), registered_delivery=registered_delivery,
    )  # fmt: skip


@asynccontextmanager
async def switch_with(
    tmp_path: Path, connectors: dict[str, StubConnector], table: Any, *, tenants: tuple = (TENANT,),
    **options: Any,
) -> AsyncIterator[tuple[Switch, Journal]]:
    config = DaemonConfig(
        source="<test>", routes_file="<test>", tenants=tenants,
        connectors=tuple(ConnectorConfig(name=n, host="127.0.0.1", port=1, system_id="x") for n in connectors),
    )  # fmt: skip
    async with open_journal(JournalConfig(path=tmp_path / "journal", sync=False)) as journal:
        switch = Switch(config, journal, table, connectors, **options)
        async with trio.open_nursery() as nursery:
            await nursery.start(switch.run)
            yield switch, journal
            nursery.cancel_scope.cancel()


async def test_refusals_leave_no_trace_and_accepts_are_queued(tmp_path: Path) -> None:
    a = StubConnector("a")
    reject = [{"name": "no-44", "match": {"prefixes": ["+44"]}, "reject": {"status": "ESME_RINVDSTADR"}}]
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a", extra=reject)) as (switch, journal):
            answers = await switch.submit(BIND, [request(), request("447700900123"), request("12025550123")])
            assert [x.status for x in answers] == [S.ESME_ROK, S.ESME_RINVDSTADR, S.ESME_RINVDSTADR]
            assert journal.counts()["messages"] == 1
            record = journal.get(answers[0].message_id)
            assert record is not None and record.state is MessageState.QUEUED
            assert (record.connector, record.route, record.destination) == ("a", "main", "+" + DEST)
            assert [job.message_id for job in a.jobs] == [answers[0].message_id]
            assert a.jobs[0].pdu.destination_addr == DEST and a.jobs[0].pdu.registered_delivery == 1


async def test_journal_full_refuses_the_whole_batch(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            async def full(ops: Any) -> Any:
                raise JournalFullError("disk full")

            journal.try_commit = full  # type: ignore[method-assign]
            answers = await switch.submit(BIND, [request(), request()])
            assert [x.status for x in answers] == [S.ESME_RMSGQFUL, S.ESME_RMSGQFUL]
            assert journal.counts()["messages"] == 0 and a.jobs == []
            assert switch.feeder.claimed == set()


async def test_full_connector_keeps_messages_on_disk_then_refuses_past_the_backlog(tmp_path: Path) -> None:
    a = StubConnector("a", accept=False)
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a"), max_backlog=3) as (switch, journal):
            answers = await switch.submit(BIND, [request(text=f"m{n}") for n in range(3)])
            assert [x.status for x in answers] == [S.ESME_ROK] * 3
            assert switch.stats()["queued_on_disk"] == 3
            (refused,) = await switch.submit(BIND, [request()])
            assert refused.status == S.ESME_RMSGQFUL
            a.accept = True  # room again: the refill pass hands them over, oldest first
            await _until(lambda: len(a.jobs) == 3)
            assert [j.message_id for j in a.jobs] == [x.message_id for x in answers]
            (accepted,) = await switch.submit(BIND, [request()])
            assert accepted.status == S.ESME_ROK


async def test_gave_up_fails_over_in_route_order_then_ends_undeliverable(tmp_path: Path) -> None:
    a, b = StubConnector("a"), StubConnector("b")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a, "b": b}, routes("a", "b")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            switch.set_routes(routes("b"))  # hot reload: the message keeps its own decision
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.GAVE_UP, 8, detail="timeout")])
            record = journal.get(answer.message_id)
            assert record is not None and (record.state, record.connector) == (MessageState.QUEUED, "b")
            assert [j.message_id for j in b.jobs] == [answer.message_id]
            await switch.submit_results("b", [SubmitResult(b.jobs[0], SubmitOutcome.GAVE_UP, 8, detail="timeout")])
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.UNDELIVERABLE
            (entry,) = journal.outbox_for("acme")
            assert entry.message_id == answer.message_id and entry.payload["tlvs"][1][1] == 5  # UNDELIVERABLE
            (letter,) = journal.dead_letters()
            assert letter.message_id == answer.message_id and "gave up" in letter.reason


async def test_first_connector_down_routes_to_the_next(tmp_path: Path) -> None:
    a, b = StubConnector("a", bound=False), StubConnector("b")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a, "b": b}, routes("a", "b")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            assert journal.get(answer.message_id).connector == "b"  # type: ignore[union-attr]
            assert a.jobs == [] and len(b.jobs) == 1


async def test_duplicate_and_late_receipts_owe_one_receipt(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submits_sent("a", a.jobs)
            await _until(lambda: journal.get(answer.message_id).state is MessageState.SUBMITTED)  # type: ignore[union-attr]
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="00AB12")])
            receipt = DeliverSm(source_addr=DEST, destination_addr="Brand", esm_class=0x04,
                                tlvs={Tag.RECEIPTED_MESSAGE_ID: "ab12", Tag.MESSAGE_STATE: 2})  # fmt: skip
            statuses = await switch.carrier_delivers("a", [receipt, receipt])
            assert statuses == [0, 0]
            undeliv = DeliverSm(esm_class=0x04, short_message=b"id:43794 sub:001 dlvrd:000 stat:UNDELIV err:001")
            assert await switch.carrier_delivers("a", [undeliv]) == [0]  # 43794 == 0xAB12, too late
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.DELIVERED and record.carrier_id == "00AB12"
            assert len(journal.outbox_for("acme")) == 1


async def test_unknown_receipt_is_parked_matched_when_the_response_lands(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            receipt = DeliverSm(esm_class=0x04, short_message=b"id:777 sub:001 dlvrd:001 stat:DELIVRD err:000 text:hi")
            assert await switch.carrier_delivers("a", [receipt]) == [0]
            assert switch.stats()["parked_receipts"] == 1
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="777")])
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.DELIVERED
            assert switch.stats()["parked_receipts"] == 0
            assert [e.tenant for e in journal.outbox_for("acme")] == ["acme"]
            assert journal.outbox_for("~parked") == []


async def test_connector_removed_from_config_reroutes_on_replay(tmp_path: Path) -> None:
    a, b = StubConnector("a", accept=False), StubConnector("b")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
        async with switch_with(tmp_path, {"b": b}, routes("b")) as (switch, journal):
            await _until(lambda: len(b.jobs) == 1)
            record = journal.get(answer.message_id)
            assert record is not None and record.connector == "b"


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_parts_sent_with_sar_tlvs_keep_them_towards_the_carrier(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            parts = [attrs.evolve(request(text=f"part {n}"), part=(0x1234, 3, n)) for n in (1, 2, 3)]
            answers = await switch.submit(BIND, parts)
            assert len({x.message_id for x in answers}) == 3  # one id per part, as tenants expect
            sar = [(j.pdu.tlvs[Tag.SAR_MSG_REF_NUM], j.pdu.tlvs[Tag.SAR_TOTAL_SEGMENTS],
                    j.pdu.tlvs[Tag.SAR_SEGMENT_SEQNUM]) for j in a.jobs]  # fmt: skip
            assert sar == [(0x1234, 3, 1), (0x1234, 3, 2), (0x1234, 3, 3)]
            udh = b"\x05\x00\x03\x07\x02\x01"
            await switch.submit(BIND, [attrs.evolve(request(), esm_class=0x40, payload=udh + b"hi", part=(7, 2, 1))])
            assert Tag.SAR_MSG_REF_NUM not in a.jobs[-1].pdu.tlvs and a.jobs[-1].pdu.short_message == udh + b"hi"


async def test_a_receipt_that_never_comes_ends_unknown(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a"), receipt_wait=0.2) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="9")])
            await trio.sleep(0.3)
            assert await switch.expirer.give_up_receipts() == 1
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.UNKNOWN
            (entry,) = journal.outbox_for("acme")
            assert b"stat:UNKNOWN" in entry.payload["sm"]
