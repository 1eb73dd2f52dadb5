"""The connector's and simulator's I/O-free parts, with fake clocks."""

from __future__ import annotations

import math
import random

import pytest
import trio

from smsswitch.carrier.backoff import Backoff
from smsswitch.carrier.jobqueue import JobQueue, QueueClosed
from smsswitch.carrier.outcomes import StatusKind, classify, status_name
from smsswitch.carrier.pacing import MIN_RATE, Pacer, RateMeter
from smsswitch.carrier.sim_model import DuplicateDetector, MessageIds, ReceiptSchedule, StateMix, parse_mix

from tests.carrier.conftest import make_job


def test_backoff_grows_with_jitter_under_a_ceiling_and_resets() -> None:
    backoff = Backoff(0.1, 2.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(0.05 <= d <= 2.0 for d in delays)
    assert max(delays[:2]) <= 0.2 and max(delays[6:]) > 1.0
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 0.1


async def test_job_queue_bounds_new_work_but_never_requeues() -> None:
    queue = JobQueue(2)
    a, b, c, d = (make_job(i) for i in range(4))
    assert queue.try_put(a) and queue.try_put(b) and not queue.try_put(c)
    queue.put_front([c, d])  # retries always fit, ahead of new work, in order
    assert [queue.pop() for _ in range(4)] == [c, d, a, b]
    assert queue.pop() is None
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            queue.try_put(a)
            queue.try_put(b)
            nursery.start_soon(queue.put, c)  # blocks: full
            await trio.sleep(0.01)
            assert len(queue) == 2
            queue.pop()
            await trio.sleep(0.01)
            assert len(queue) == 2
    queue.close()
    assert not queue.try_put(d)
    with pytest.raises(QueueClosed):
        await queue.put(d)
    assert queue.drain() == [b, c]


async def test_job_queue_wakes_idle_writers() -> None:
    queue = JobQueue(10)
    event = trio.Event()
    queue.register_idle(event)
    queue.try_put(make_job(1))
    assert event.is_set()


def test_statuses_are_classified() -> None:
    assert classify(0) is StatusKind.OK
    assert classify(0x58) is StatusKind.THROTTLE and classify(0x14) is StatusKind.THROTTLE
    assert classify(0x08) is StatusKind.TRANSIENT
    assert classify(0x0B) is StatusKind.PERMANENT and classify(0x45) is StatusKind.PERMANENT
    assert status_name(0x58) == "ESME_RTHROTTLED" and status_name(0x4242) == "0x00004242"


def test_rate_meter_counts_the_last_second() -> None:
    meter = RateMeter()
    for i in range(100):
        meter.add(i / 100)  # 100/s for one second
    assert meter.rate(0.999) == pytest.approx(100, rel=0.15)
    assert meter.rate(5.0) == 0


def test_pacer_cuts_to_what_the_carrier_took_and_recovers() -> None:
    pacer = Pacer(max_tps=0)  # unlimited until the carrier says otherwise
    assert pacer.reserve(0.0) == 0.0 and math.isinf(pacer.rate)
    for i in range(40):
        pacer.accepted(i / 40, 1)  # the carrier took 40/s
    assert pacer.throttled(1.0)
    assert MIN_RATE <= pacer.rate <= 40
    assert pacer.paused_until > 1.0
    assert not pacer.throttled(1.1)  # same episode: one cut
    cut = pacer.rate
    pacer.reserve(5.0)
    assert pacer.rate > cut  # creeping back up


def _outage(pacer: Pacer, start: float, seconds: float) -> float:
    """The carrier refuses every submit for `seconds`: one probe a second is throttled, as the
    link would report it. Returns when the outage ended."""
    now = start
    while now < start + seconds:
        pacer.sent(now, 1)
        pacer.throttled(now)
        now += 0.5
    return start + seconds


def _recovered_rate(pacer: Pacer, after: float) -> float:
    """Clean traffic again: the rate in force after the first clean batch past the pause."""
    pacer.clean_batch(max(after, pacer.paused_until))
    return pacer.rate


def test_pacer_jumps_back_to_the_last_good_rate_after_an_outage() -> None:
    pacer = Pacer(max_tps=0)
    for i in range(200):
        pacer.accepted(i / 200, 1)  # the carrier took 200/s
        pacer.sent(i / 200, 1)
    ended = _outage(pacer, 1.0, 3.0)
    assert pacer.rate <= 10  # refused for seconds: the cuts went right down
    assert pacer.resume_rate == pytest.approx(180, rel=0.15)  # the first cut's estimate, kept
    # The old +10 %/s crept from ~1/s and needed a minute to get back to speed.
    assert _recovered_rate(pacer, ended) == pytest.approx(pacer.resume_rate)


def test_pacer_halves_its_resume_rate_while_the_jump_back_is_refused() -> None:
    """A carrier whose limit really fell (200/s before, 40/s now) is not hit at 180/s forever."""
    pacer = Pacer(max_tps=0)
    for i in range(200):
        pacer.accepted(i / 200, 1)
        pacer.sent(i / 200, 1)
    now = _outage(pacer, 1.0, 3.0)
    jumps = []
    for _ in range(6):
        jumps.append(_recovered_rate(pacer, now))
        now = max(now, pacer.paused_until)
        for i in range(24):  # 0.6 s at the new limit of 40/s, then refused again
            pacer.accepted(now + i / 40, 1)
        now += 0.6
        pacer.throttled(now)
    assert jumps[0] == pytest.approx(180, rel=0.15)
    assert jumps[1] == pytest.approx(jumps[0] / 2) and jumps[2] == pytest.approx(jumps[1] / 2)
    assert jumps[-1] <= 45  # found the new limit instead of bursting at 180/s again


def test_pacer_spaces_sends_at_the_configured_rate() -> None:
    pacer = Pacer(max_tps=100)
    delays = [pacer.reserve(0.0) for _ in range(5)]
    assert delays == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])


def test_simulator_parts() -> None:
    assert parse_mix("DELIVRD=0.9, undeliv=0.1") == (("DELIVRD", 0.9), ("UNDELIV", 0.1))
    with pytest.raises(ValueError):
        parse_mix("DELIVERED=x")
    with pytest.raises(ValueError):
        parse_mix("NOPE=1")
    mix = StateMix(parse_mix("DELIVRD=1,REJECTD=1"), random.Random(3))
    assert {mix.pick() for _ in range(50)} == {"DELIVRD", "REJECTD"}
    hex_ids = MessageIds("hex", start=255)
    assert hex_ids.next() == (255, "ff") and MessageIds("decimal", start=7).next() == (7, "7")
    schedule = ReceiptSchedule(maxsize=3)
    assert schedule.push(2.0, "b") and schedule.push(1.0, "a") and schedule.push(3.0, "c")
    assert not schedule.push(0.5, "overflow")
    assert schedule.pop_due(2.5) == ["a", "b"] and schedule.next_due() == 3.0
    seen = DuplicateDetector(capacity=2)
    assert not seen.seen_before(("x",)) and seen.seen_before(("x",))
    seen.seen_before(("y",))
    seen.seen_before(("z",))
    assert not seen.seen_before(("x",))  # forgotten beyond capacity
