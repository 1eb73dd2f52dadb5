"""Tenant faults against the daemon process: a receiver that never answers deliver_sm, one that
disconnects mid-window, and thousands of receipts owed to a tenant that is offline (they wait
on disk: the daemon's own memory stays flat while they pile up, and all arrive once it binds).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from smsswitch.client import connect
from smsswitch.harness import DaemonProcess
from smsswitch.journal.journal import Journal
from tests.faults.rig import (
    DEST,
    LoadTenant,
    RawEsme,
    SimRig,
    TenantLog,
    collect_deliveries,
    daemon_config,
    daemon_log_problems,
    metric,
    receipted_id,
    rss_kib,
    start_daemon,
    stop_daemon,
)

pytestmark = pytest.mark.timeout(120)


async def submit_all(port: int, count: int, prefix: str, bind_type: str = "transmitter") -> list[str]:
    log = TenantLog()
    tenant = LoadTenant(port, log, rate=0, workers=8, prefix=prefix, max_messages=count, bind_type=bind_type)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tenant.run, trio.Event())
            while len(log.accepted) + sum(log.refused.values()) + log.unanswered < count:
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert not log.refused and not log.unanswered and len(log.accepted) == count
    return list(log.accepted)


async def test_receiver_that_never_answers_holds_nobody_up(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        rig = SimRig(nursery)
        await rig.start()
        config = daemon_config(tmp_path, {"sim": rig.port}, tenants={"demo": {"deliver_timeout": 1, "window": 20}},
                               server={"response_timeout": 2})
        daemon = DaemonProcess(config)
        try:
            await start_daemon(daemon)
            async with RawEsme.bound(daemon.smpp_port, "receiver") as mute, trio.open_nursery() as inner:
                mute_closed = trio.Event()

                async def read_mute() -> None:
                    try:
                        await mute.read_for(60)  # reads everything, answers no deliver_sm
                    except (EOFError, trio.BrokenResourceError):
                        mute_closed.set()

                inner.start_soon(read_mute)
                ids = await submit_all(daemon.smpp_port, 60, "n")
                # Its window (20) bounds what the switch puts on the wire to it: once full,
                # nothing more comes until they time out (deliver_timeout 1 s).
                with trio.fail_after(5):
                    while len(mute.delivers) < 20:
                        await trio.sleep(0.01)
                await trio.sleep(0.2)
                assert len(mute.delivers) == 20
                # Another tenant is not held up by it: acme submits and gets its receipts.
                acme = TenantLog()
                async with connect("127.0.0.1", daemon.smpp_port, "acme", "acmepass") as client:
                    nursery.start_soon(collect_deliveries, client, acme)
                    with trio.fail_after(10):
                        for i in range(20):
                            text = f"Your code is {1000 + i}. It expires in 5 minutes."  # acme's policy: templates only
                            for message_id in await client.submit(DEST, text, source="ACME"):
                                acme.accepted[message_id] = text
                    assert not await acme.wait_receipts(10)
                # A good receiver of the same tenant gets every receipt.
                good = TenantLog()
                async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="receiver") as client:
                    nursery.start_soon(collect_deliveries, client, good)
                    # The mute bind let four deliver_timeouts pass without answering one: the
                    # switch unbinds and closes it (its window's receipts go to binds that answer).
                    with trio.fail_after(4 * 1 + 1 + 2 + 3):  # 4 deliver_timeouts (+1) + unbind response_timeout
                        await mute_closed.wait()
                    # Its window bounded what was on the wire to it at any time.
                    assert len(mute.delivers) <= 20 * 5 + 1
                    missing = await good.wait_receipts(15, set(ids))
                    assert not missing, f"{len(missing)} receipts never reached the answering receiver"
                inner.cancel_scope.cancel()
            assert not daemon_log_problems(daemon)
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            rig.stop()
            nursery.cancel_scope.cancel()


async def test_receiver_dropping_mid_window_loses_no_receipt(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        rig = SimRig(nursery)
        await rig.start()
        daemon = DaemonProcess(daemon_config(tmp_path, {"sim": rig.port}))
        try:
            await start_daemon(daemon)
            ids = await submit_all(daemon.smpp_port, 80, "d")
            answered: set[str] = set()
            async with RawEsme.bound(daemon.smpp_port, "receiver") as flaky:
                with trio.move_on_after(3):
                    while len(flaky.delivers) < 60:
                        await flaky.read()
                assert len(flaky.delivers) >= 40, "the switch should fill the receiver's window"
                first = flaky.delivers[:15]
                await flaky.answer(first)
                answered = {receipted_id(p) for p in first}
            # ... and it hangs up with the rest of its window unanswered.
            good = TenantLog()
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="receiver") as client:
                nursery.start_soon(collect_deliveries, client, good)
                missing = await good.wait_receipts(15, set(ids) - answered)
            assert not missing, f"{len(missing)} receipts lost with the dropped receiver"
            assert not set(good.receipts) & answered - set(), "acknowledged receipts must not come again"
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            rig.stop()
            nursery.cancel_scope.cancel()


async def test_thousands_of_receipts_for_an_offline_tenant_wait_on_disk(tmp_path: Path) -> None:
    warmup, measured = 3000, 4500
    async with trio.open_nursery() as nursery:
        rig = SimRig(nursery)
        await rig.start()
        daemon = DaemonProcess(daemon_config(tmp_path, {"sim": rig.port}))
        try:
            await start_daemon(daemon)
            pid = daemon.process.pid  # type: ignore[union-attr]
            journal = Journal.open_readonly(tmp_path / "journal")
            try:
                async def wait_owed(n: int) -> None:
                    with trio.fail_after(30):
                        while journal.counts()["outbox"] < n:
                            await trio.sleep(0.1)

                # Warm up first: code paths, caches, journal pages, and a second bind (the
                # first scrypt check's 16 MiB buffer is mmap'd; glibc then raises its mmap
                # threshold and later ones stay in a thread arena).
                ids = await submit_all(daemon.smpp_port, warmup // 2, "w")
                ids += await submit_all(daemon.smpp_port, warmup - warmup // 2, "v")
                await wait_owed(warmup)
                heap_before = rss_kib(pid, "RssAnon")
                ids += await submit_all(daemon.smpp_port, measured, "o")
                await wait_owed(warmup + measured)
                heap_after = rss_kib(pid, "RssAnon")
            finally:
                journal.close()
            per_receipt = (heap_after - heap_before) * 1024 / measured
            # Held in memory, an owed receipt (OutboxEntry, payload dict, deliver_sm) costs well
            # over 1 KiB; measured here, the heap grows ~220 B per *message* whether or not its
            # receipt is owed (the same with a receiver bound), and flattens out.
            assert per_receipt < 512, f"daemon heap grew {per_receipt:.0f} B per owed receipt"
            good = TenantLog()
            started = trio.current_time()
            async with connect("127.0.0.1", daemon.smpp_port, "demo", "demopass", bind_type="receiver") as client:
                nursery.start_soon(collect_deliveries, client, good)
                missing = await good.wait_receipts(40, set(ids))
            took = trio.current_time() - started
            refused = await metric(daemon, "smsswitch_tenant_deliveries_total", outcome="answered_error")
            assert not missing, f"{len(missing)} owed receipts never delivered"
            print(f"offline tenant: heap {heap_before} -> {heap_after} KiB while {measured} more receipts were "
                  f"owed ({per_receipt:.0f} B each); all {len(ids)} delivered on bind in {took:.1f} s ({refused:.0f} refused by the client)")
            assert await stop_daemon(daemon) == 0
        finally:
            daemon.close()
            rig.stop()
            nursery.cancel_scope.cancel()
