"""JobQueue.reserve: the room the core's back-pressure (Feeder.admit) waits for and promises."""

from __future__ import annotations

import trio
import trio.testing

from smsswitch.carrier.api import SubmitJob
from smsswitch.carrier.jobqueue import JobQueue
from smsswitch.smpp.pdu import SubmitSm


def job(i: int) -> SubmitJob:
    return SubmitJob(f"m{i}", SubmitSm(destination_addr="1"))


async def test_reserve_waits_for_room_beside_promises_first_come_first_served() -> None:
    queue = JobQueue(10)
    for i in range(8):
        assert queue.try_put(job(i))
    assert queue.room() == 2
    assert await queue.reserve(2) == 2  # fits now: no wait
    assert queue.room() == 0
    order: list[str] = []

    async def take(name: str, count: int) -> None:
        got = await queue.reserve(count)
        order.append(f"{name}{got}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, "a", 3)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, "b", 1)
        await trio.testing.wait_all_tasks_blocked()
        assert order == []
        for _ in range(2):
            queue.pop()
        await trio.testing.wait_all_tasks_blocked()
        assert order == []  # 2 free, a needs 3, b (1) queues behind a
        queue.release(2)  # the first batch was put (or refused): its promise comes back
        await trio.testing.wait_all_tasks_blocked()
        assert order == ["a3", "b1"]
    assert queue.promised == 4


async def test_reserve_is_capped_at_half_the_queue_and_ends_on_close() -> None:
    queue = JobQueue(10)
    assert await queue.reserve(100) == 5
    for i in range(10):
        queue.try_put(job(i))  # puts ignore promises
    results: list[int] = []

    async def take() -> None:
        results.append(await queue.reserve(1))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take)
        await trio.testing.wait_all_tasks_blocked()
        queue.close()
    assert results == [0]
