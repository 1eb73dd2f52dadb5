"""Connector under carrier faults: dropped connections, restarts, refused binds, stalls, stop."""

from __future__ import annotations

import time

import trio

from smsswitch.carrier.api import SubmitOutcome
from smsswitch.carrier.connector import Connector, QueueClosed
from smsswitch.carrier.simulator import CarrierSimulator

from tests.carrier.conftest import FakeSink, connector_config, eventually, make_job, sim_config, start_sim


async def test_dead_sessions_window_is_requeued_and_nothing_is_lost(sink: FakeSink) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, drop_every=7, response_delay=0.005)
            connector = Connector(connector_config(sim.port, sessions=2, window=5, max_attempts=10), sink)
            nursery.start_soon(connector.run)
            for i in range(60):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.results) == 60, timeout=15)
            outcomes = sink.outcomes()
            assert len(outcomes) == 60 and all(len(rs) == 1 for rs in outcomes.values())
            assert {r.outcome for r in sink.results} == {SubmitOutcome.ACCEPTED}
            health = connector.health()
            stats = sim.stats()
            assert stats["drops"] > 0 and health.reconnects > 0 and health.requeued_on_loss > 0
            # Every send was announced to the sink before it went out, resends included (some
            # were still in the socket buffers when the simulator hung up, never read).
            assert len(sink.sent) == sum(r.job.attempts for r in sink.results)
            assert len(sink.sent) >= stats["submits_received"] > 60
            assert stats["duplicates"] <= 2 * 5
            assert {r.carrier_message_id for r in sink.results} <= {e["message_id"] for e in sim.received()}
            nursery.cancel_scope.cancel()


async def test_rebinds_with_backoff_after_the_carrier_restarts(sink: FakeSink) -> None:
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            first = await start_sim(nursery)
            port = first.port
            connector = Connector(connector_config(port, sessions=2), sink)
            nursery.start_soon(connector.run)
            await connector.submit(make_job(1))
            await sink.wait_for(lambda: len(sink.accepted()) == 1)
            first.stop()
            await eventually(lambda: connector.health().sessions_bound == 0)
            await connector.submit(make_job(2))  # waits in the queue while the carrier is down
            await trio.sleep(0.3)  # a few refused connects
            assert connector.health().reconnects >= 2
            assert connector.health().queue_depth == 1
            second = CarrierSimulator(sim_config(port=port))
            await nursery.start(second.serve)
            await sink.wait_for(lambda: len(sink.accepted()) == 2, timeout=5)
            assert [e["destination"] for e in second.received()] == ["447700900002"]
            await eventually(lambda: connector.health().binds == 4)
            nursery.cancel_scope.cancel()


async def test_refused_bind_is_retried_with_backoff(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, refuse_binds_for=0.4)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1, timeout=5)
            health = connector.health()
            assert health.bind_failures >= 2 and sim.stats()["bind_refusals"] == health.bind_failures
            # Backoff, not a hot loop: every retry waits at least half the 50 ms initial delay
            # (full jitter: usually ~4 tries fit in the 0.4 s of refusals, and once 7 did, so
            # a tighter bound than the floor allows fails at random).
            assert health.bind_failures <= 0.4 / 0.025 + 1
            nursery.cancel_scope.cancel()


async def test_wrong_password_never_binds(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            connector = Connector(connector_config(sim.port, password="wrong"), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().bind_failures >= 2)
            assert sim.stats()["binds"] == 0
            assert connector.health().sessions_bound == 0
            nursery.cancel_scope.cancel()


async def test_stalled_carrier_times_out_and_jobs_survive(sink: FakeSink) -> None:
    with trio.fail_after(15):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            config = connector_config(sim.port, enquire_link_interval=0.2, response_timeout=0.3, max_attempts=10)
            connector = Connector(config, sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            sim.stall(1.0)
            for i in range(5):
                await connector.submit(make_job(i))
            await sink.wait_for(lambda: len(sink.results) == 5, timeout=10)
            assert {r.outcome for r in sink.results} == {SubmitOutcome.ACCEPTED}
            health = connector.health()
            assert health.timeouts >= 1 and health.reconnects >= 1
            nursery.cancel_scope.cancel()


async def test_unanswered_enquire_link_closes_and_rebinds(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery)
            config = connector_config(sim.port, enquire_link_interval=0.1, response_timeout=0.2)
            connector = Connector(config, sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            sim.stall(0.6)
            await eventually(lambda: connector.health().reconnects >= 1, timeout=3)
            await eventually(lambda: connector.health().sessions_bound == 1, timeout=5)
            assert sim.stats()["binds"] >= 2
            nursery.cancel_scope.cancel()


async def test_stop_drains_the_window_then_unbinds(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, response_delay=0.2)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await eventually(lambda: connector.health().sessions_bound == 1)
            for i in range(5):
                await connector.submit(make_job(i))
            await eventually(lambda: connector.health().window_in_use == 5)
            leftover = await connector.stop(grace=2.0)
            assert leftover == []
            assert len(sink.accepted()) == 5
            assert sim.stats()["unbinds"] == 1
            assert not connector.try_submit(make_job(9))
            try:
                await connector.submit(make_job(10))
            except QueueClosed:
                pass
            else:
                raise AssertionError("submit after stop must raise QueueClosed")
            nursery.cancel_scope.cancel()


async def test_stop_returns_what_could_not_be_sent(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, refuse_binds_for=30)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            jobs = [make_job(i) for i in range(5)]
            for job in jobs:
                assert connector.try_submit(job)
            await trio.sleep(0.1)
            leftover = await connector.stop(grace=0.1)
            assert leftover == jobs and sink.results == []
            assert not connector.health().running
            nursery.cancel_scope.cancel()


async def test_stop_with_grace_expired_returns_unanswered_jobs(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, response_delay=5.0)
            connector = Connector(connector_config(sim.port, response_timeout=10.0), sink)
            nursery.start_soon(connector.run)
            jobs = [make_job(i) for i in range(3)]
            for job in jobs:
                await connector.submit(job)
            await eventually(lambda: connector.health().window_in_use == 3)
            leftover = await connector.stop(grace=0.1)
            assert sorted(j.message_id for j in leftover) == ["m0", "m1", "m2"]
            assert all(j.attempts == 1 for j in leftover) and len(sink.sent) == 3
            nursery.cancel_scope.cancel()


async def test_jobs_expire_while_the_carrier_is_unreachable(sink: FakeSink) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await start_sim(nursery, refuse_binds_for=30)
            connector = Connector(connector_config(sim.port), sink)
            nursery.start_soon(connector.run)
            await connector.submit(make_job(1, deadline=time.time() + 0.2))
            await connector.submit(make_job(2))
            await sink.wait_for(lambda: len(sink.results) == 1, timeout=5)
            assert sink.results[0].outcome is SubmitOutcome.EXPIRED
            assert connector.health().queue_depth == 1
            nursery.cancel_scope.cancel()


async def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_unreachable_carrier_hands_queued_jobs_back(sink: FakeSink) -> None:
    # Nothing listens on this port: no session ever binds. After failover_after the queued
    # jobs come back UNAVAILABLE (each exactly once) so the core can fail them over.
    port = await closed_port()
    connector = Connector(connector_config(port, failover_after=1.0, reconnect_initial=0.2), sink)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connector.run)
        for i in range(5):
            assert connector.try_submit(make_job(i))
        await sink.wait_for(lambda: len(sink.results) >= 5, timeout=10)
        assert {r.outcome for r in sink.results} == {SubmitOutcome.UNAVAILABLE}
        assert sorted(len(v) for v in sink.outcomes().values()) == [1] * 5
        assert connector.health().handed_back == 5 and connector.health().queue_depth == 0
        await connector.stop(0.5)
        nursery.cancel_scope.cancel()


async def test_failover_after_zero_keeps_jobs_queued(sink: FakeSink) -> None:
    port = await closed_port()
    connector = Connector(connector_config(port, failover_after=0, reconnect_initial=0.2), sink)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connector.run)
        assert connector.try_submit(make_job(1))
        await trio.sleep(2.5)
        assert sink.results == [] and connector.health().queue_depth == 1
        await connector.stop(0.5)
        nursery.cancel_scope.cancel()
