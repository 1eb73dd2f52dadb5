"""The "sent" mark lingers: an outcome that comes first writes no SUBMITTED transition but
still counts the attempt; a slow carrier's message still gets its SUBMITTED note; shutdown
writes what is pending."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from smsswitch.carrier.api import SubmitOutcome, SubmitResult
from smsswitch.core import results
from smsswitch.journal.records import MessageState
from tests.core.test_switch_units import BIND, StubConnector, request, routes, switch_with

LINGER = 0.2


@pytest.fixture(autouse=True)
def short_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "SENT_LINGER", LINGER)


def states(journal, message_id: str) -> list[MessageState]:  # noqa: ANN001
    record = journal.get(message_id)
    assert record is not None
    return [h.state for h in record.history]


async def test_an_outcome_within_the_linger_counts_the_attempt_without_a_submitted_write(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submits_sent("a", a.jobs)
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="77")])
            await trio.sleep(LINGER * 2)
            await switch.flush()
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.ENROUTE and record.attempts == 1
            assert MessageState.SUBMITTED not in states(journal, answer.message_id)
            assert switch.stats()["sent_marks_pending"] == 0


async def test_a_rejection_within_the_linger_counts_the_attempt(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submits_sent("a", a.jobs)
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.REJECTED, command_status=0x45)])
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.REJECTED and record.attempts == 1
            assert MessageState.SUBMITTED not in states(journal, answer.message_id)


async def test_a_slow_carrier_still_gets_the_submitted_note(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submits_sent("a", a.jobs)
            assert journal.get(answer.message_id).state is MessageState.QUEUED  # type: ignore[union-attr]
            while journal.get(answer.message_id).state is not MessageState.SUBMITTED:  # type: ignore[union-attr]
                await trio.sleep(0.01)
            await switch.submit_results("a", [SubmitResult(a.jobs[0], SubmitOutcome.ACCEPTED, carrier_message_id="78")])
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.ENROUTE and record.attempts == 1
            assert states(journal, answer.message_id)[-2:] == [MessageState.SUBMITTED, MessageState.ENROUTE]


async def test_shutdown_writes_the_pending_marks(tmp_path: Path) -> None:
    a = StubConnector("a")
    with trio.fail_after(10):
        async with switch_with(tmp_path, {"a": a}, routes("a")) as (switch, journal):
            (answer,) = await switch.submit(BIND, [request()])
            await switch.submits_sent("a", a.jobs)
            await switch.flush()
            record = journal.get(answer.message_id)
            assert record is not None and record.state is MessageState.SUBMITTED and record.attempts == 1
            assert switch.stats()["sent_marks_pending"] == 0
