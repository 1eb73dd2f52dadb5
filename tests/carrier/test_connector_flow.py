"""Window, pacing and throttling, measured over real TCP with generous tolerances."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from smsswitch.carrier.api import SubmitOutcome
from smsswitch.carrier.connector import Connector
from smsswitch.carrier.link import CarrierLink

from tests.carrier.conftest import FakeSink, connector_config, eventually, make_job, start_sim


async def test_window_is_filled_but_never_exceeded(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, response_delay=0.03)
            connector = Connector(connector_config(sim.port, window=4), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            most_in_flight = 0
            for i in range(40):
                await connector.submit(make_job(i))
            while len(sink.results) < 40:
                most_in_flight = max(most_in_flight, connector.health().window_in_use)
                await trio.sleep(0.002)
            assert most_in_flight <= 4
            # Pipelined, not one at a time: the simulator saw full windows.
            assert sim.stats()["max_unanswered"] == 4
            assert len(sink.accepted()) == 40
            # Every answer went through the delay line, and its lateness was measured.
            assert sim.stats()["delayed_answers"] == 40
            assert sim.stats()["delayed_answers_late_ms_avg"] >= 0
            nursery.cancel_scope.cancel()


async def _thirty_jobs_through_a_window_of_one(sink: FakeSink, once_bound: Callable[[], None] = lambda: None) -> None:
    """Window 1, no receipts: only each submit_sm_resp frees the window for the next job."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            connector = Connector(connector_config(sim.port, window=1), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            once_bound()
            for i in range(30):
                await connector.submit(make_job(i, registered_delivery=0))
            await sink.wait_for(lambda: len(sink.results) == 30, timeout=8)
            assert len(sink.accepted()) == 30
            assert sim.stats()["max_unanswered"] == 1
            nursery.cancel_scope.cancel()


async def test_a_full_window_refills_as_soon_as_responses_free_it(sink: FakeSink) -> None:
    # The writer (waiting on a full window, not on the queue) must be woken by that read, or
    # refill it itself. Without either it would refill on its one-second fallback turn: 30
    # jobs would take ~30 s.
    await _thirty_jobs_through_a_window_of_one(sink)


async def test_the_reader_refills_a_full_window_without_waking_the_writer(
    sink: FakeSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unpaced, each submit_sm_resp's read sends the next submit itself. Before, every response
    # woke the writer task for that (a scheduler pass later: on a busy switch ~1 ms of every
    # window slot on a 50 ms carrier).
    turns = 0
    check_timers = CarrierLink._check_timers

    async def counting(self: CarrierLink, now: float) -> None:  # once per turn of the writer
        nonlocal turns
        turns += 1
        await check_timers(self, now)

    await _thirty_jobs_through_a_window_of_one(
        sink, once_bound=lambda: monkeypatch.setattr(CarrierLink, "_check_timers", counting)
    )
    assert turns < 10, f"the writer took {turns} turns for 30 refills"


async def test_after_a_reader_refill_empties_the_queue_new_work_is_sent_at_once(sink: FakeSink) -> None:
    # Queued before the bind, jobs 0-2 fill the window in one write, so their responses come
    # back in one read; the reader's refill then takes job 3, the queue's last, and leaves
    # room. The writer must then wait for work (registered with the queue): job 4 goes out at
    # once, not when job 3's response (1 s later) or the writer's one-second turn wakes it.
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, response_delay=1.0)
            connector = Connector(connector_config(sim.port, window=3, response_timeout=5.0), sink)
            for i in range(4):
                await connector.submit(make_job(i, registered_delivery=0))
            nursery.start_soon(connector.run)
            await sink.wait_for(lambda: len(sink.results) == 3, timeout=5)
            await eventually(lambda: sim.stats()["submits_received"] == 4, timeout=1)
            await connector.submit(make_job(4, registered_delivery=0))
            await eventually(lambda: sim.stats()["submits_received"] == 5, timeout=0.5)
            await sink.wait_for(lambda: len(sink.results) == 5, timeout=5)
            nursery.cancel_scope.cancel()


async def test_rate_is_connector_wide_and_smooth(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            connector = Connector(connector_config(sim.port, sessions=3, max_tps=50), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 3)
            for i in range(51):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.accepted()) == 51)
            times = sorted(entry["time"] for entry in sim.received())
            rate = 50 / (times[-1] - times[0])
            assert 35 <= rate <= 65, rate
            # Smooth: no tight bursts (no 10 submits within a fifth of a second).
            assert min(b - a for a, b in zip(times, times[10:])) > 0.1
            nursery.cancel_scope.cancel()


async def test_throttled_submits_back_off_and_all_get_through(sink: FakeSink) -> None:
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, throttle_above=40)
            connector = Connector(connector_config(sim.port, sessions=2, max_attempts=2), sink)
            nursery.start_soon(connector.run)
            for i in range(40):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.results) == 40, timeout=12)
            assert {r.outcome for r in sink.results} == {SubmitOutcome.ACCEPTED}
            assert all(len(rs) == 1 for rs in sink.outcomes().values())
            stats = sim.stats()
            health = connector.health()
            assert stats["throttled"] > 0 and health.throttled == stats["throttled"]
            # Throttling pauses the connector rather than hammering: few refusals per message.
            assert stats["throttled"] < 40 * 3
            # Throttle refusals do not use up attempts (max_attempts=2 would otherwise end some).
            assert max(r.job.attempts for r in sink.results) > 2 or stats["throttled"] < 40
            nursery.cancel_scope.cancel()
