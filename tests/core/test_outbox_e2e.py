"""Receipts to tenants: spread over their receiver binds; a tenant that never answers
deliver_sm holds only its outlets' room in memory, the rest waits on disk."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import trio

from tests.core.harness import DEST, running, tenant
from tests.core.tenant import SmpplibTenant


async def _send(port: int, count: int, prefix: str) -> list[str]:
    client = SmpplibTenant(port, "acme", "transmitter")
    await trio.to_thread.run_sync(client.bind)
    try:
        return [(await trio.to_thread.run_sync(client.submit, DEST, f"{prefix} {n}"))[1] for n in range(count)]
    finally:
        await trio.to_thread.run_sync(client.close)


async def test_receipts_spread_over_the_tenants_receiver_binds(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            first = SmpplibTenant(h.port, "acme", "receiver")
            second = SmpplibTenant(h.port, "acme", "receiver")
            await trio.to_thread.run_sync(first.bind)
            await trio.to_thread.run_sync(second.bind)
            try:
                ids = await _send(h.port, 30, "spread")
                await h.wait_for(lambda: all(h.state(i) == "DELIVERED" for i in ids))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(trio.to_thread.run_sync, first.read_for, 1.5)
                    nursery.start_soon(trio.to_thread.run_sync, second.read_for, 1.5)
            finally:
                await trio.to_thread.run_sync(first.close)
                await trio.to_thread.run_sync(second.close)
            got = [d.receipted_message_id for d in first.deliveries + second.deliveries]
            assert sorted(got) == sorted(ids)  # each exactly once
            assert first.deliveries and second.deliveries  # both binds took a share
            assert h.switch.stats()["outbox_depth"] == 0


async def test_tenant_that_never_answers_does_not_grow_memory(tmp_path: Path) -> None:
    window = 2
    tenants = (tenant(window=window, deliver_timeout=0.3), tenant("beta"))
    count = 40
    with trio.fail_after(40):
        async with running(tmp_path, tenants=tenants) as h:
            silent = SmpplibTenant(h.port, "acme", "receiver", answer=False)
            await trio.to_thread.run_sync(silent.bind)
            try:
                ids = await _send(h.port, count, "unanswered")
                await h.wait_for(lambda: all(h.state(i) == "DELIVERED" for i in ids))
                peak = 0
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(partial(trio.to_thread.run_sync, lambda: silent.read_for(2.5, closed_ok=True)))
                    for _ in range(50):
                        stats = h.switch.stats()
                        peak = max(peak, stats["outbox_dispatch"]["inflight"] + stats["outbox_dispatch"]["settling"])
                        await trio.sleep(0.05)
            finally:
                await trio.to_thread.run_sync(silent.close)
            capacity = 2 * window  # the server's outlet: window on the wire + as many queued
            assert 0 < peak <= capacity
            assert len(silent.deliveries) < count  # it only ever saw what the window allowed
            stats = h.switch.stats()
            assert stats["outbox_depth"] == count  # all still owed, on disk
            assert stats["outbox_dispatch"]["timeouts"] >= window
            # A tenant that answers again gets every receipt (retries are due after backoff).
            polite = SmpplibTenant(h.port, "acme", "receiver")
            await trio.to_thread.run_sync(polite.bind)
            try:
                await trio.to_thread.run_sync(lambda: polite._read_until(  # noqa: SLF001
                    lambda: len({d.receipted_message_id for d in polite.deliveries}) >= count, 20.0))
            finally:
                await trio.to_thread.run_sync(polite.close)
            assert {d.receipted_message_id for d in polite.deliveries} == set(ids)
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 0)
