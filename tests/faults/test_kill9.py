"""kill -9 of the daemon under steady load, at random moments, several times in one test.

The carrier simulator lives in this process (it survives every kill), the tenant keeps
submitting and reconnecting, and after each kill the journal must open cleanly before the
daemon is started again on the same journal. Promises checked at the end:
- every submit answered ESME_ROK reached the carrier at least once;
- carrier duplicates are counted and no more than what the journal held unfinished
  (QUEUED/SUBMITTED, i.e. in flight) at the kills;
- every receipt the carrier handed over (deliver_sm_resp ESME_ROK) reached the tenant, and so
  did a receipt for every accepted message.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import trio

from smsswitch.harness import DaemonProcess
from smsswitch.journal.journal import Journal
from tests.faults.rig import (
    LoadTenant,
    SimRig,
    TenantLog,
    daemon_config,
    journal_report,
    kill9,
    start_daemon,
    stop_daemon,
)


def owed_receipts(path: Path) -> list:
    journal = Journal.open_readonly(path)
    try:
        return journal.outbox_for("demo")
    finally:
        journal.close()


#: Sessions x window of the connector (rig.daemon_config): the most submits on the wire at once.
WINDOW_TOTAL = 2 * 50


async def kill_loop(tmp_path: Path, kills: int, rate: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    why = f"(seed {seed}; rerun with FAULTS_SEED={seed})"
    journal_path = tmp_path / "journal"
    log = TenantLog()
    unfinished_at_kills = 0
    with trio.fail_after(60 + 15 * kills):
        async with trio.open_nursery() as nursery:
            rig = SimRig(nursery, receipt_delay=0.3)
            await rig.start()
            daemon = DaemonProcess(daemon_config(tmp_path, {"sim": rig.port}))
            try:
                await start_daemon(daemon)
                stop_submitting = trio.Event()
                tenant = LoadTenant(daemon.smpp_port, log, rate=rate, workers=4, prefix="k")
                nursery.start_soon(tenant.run, stop_submitting)
                for _ in range(kills):
                    await trio.sleep(rng.uniform(0.4, 1.6))
                    await kill9(daemon)
                    counts, problems = journal_report(journal_path)
                    assert problems == [], f"journal inconsistent after kill -9: {problems} {why}"
                    # In flight at this kill: what the journal had not seen finish at the carrier,
                    # but never more than the connector's windows can hold on the wire.
                    unfinished = counts["state.queued"] + counts["state.submitted"] + counts["state.accepted"]
                    unfinished_at_kills += min(unfinished, WINDOW_TOTAL)
                    await trio.sleep(rng.uniform(0.0, 0.5))  # the carrier's receipts pile up meanwhile
                    await start_daemon(daemon)
                await trio.sleep(0.5)
                stop_submitting.set()
                missing = await log.wait_receipts(40)
                assert not missing, f"{len(missing)} accepted messages never got a receipt {why}"
                # What the carrier still owes (pending receipts) must drain too.
                with trio.move_on_after(10):
                    while rig.sim.stats()["receipts_pending"]:
                        await trio.sleep(0.1)
                await trio.sleep(0.5)  # the last acked receipts' deliver_sm to the tenant
                assert await stop_daemon(daemon) == 0
            finally:
                daemon.close()
                rig.stop()
                nursery.cancel_scope.cancel()
    counts, problems = journal_report(journal_path)
    assert problems == [], f"{problems} {why}"

    texts = rig.texts()
    accepted_texts = set(log.accepted.values())
    lost = [t for t in accepted_texts if texts[t] == 0]
    assert not lost, f"{len(lost)} ESME_ROK submits never reached the carrier, e.g. {lost[:5]} {why}"
    duplicates = sum(n - 1 for n in texts.values() if n > 1)
    assert duplicates == rig.stat("duplicates"), "the simulator and the texts disagree on duplicates"
    assert duplicates <= unfinished_at_kills, f"{duplicates} duplicates > {unfinished_at_kills} in flight at the kills {why}"

    our_id = {text: message_id for message_id, text in log.accepted.items()}
    acked = [t for t in rig.acked_receipt_texts() if t in our_id]
    not_forwarded = [t for t in acked if our_id[t] not in log.receipts]
    assert not not_forwarded, f"receipts the carrier handed over never reached the tenant: {not_forwarded[:5]} {why}"
    leftover = owed_receipts(journal_path)
    stray = [(e.message_id, e.attempts, e.message_id in log.accepted, log.receipts.get(e.message_id or "", 0)) for e in leftover]
    assert not leftover, f"receipts still owed after the tenant drained everything (id, attempts, ours, got): {stray} {why}"
    assert len(log.accepted) > 20 * kills, f"too little traffic to mean anything: {len(log.accepted)}"
    return {
        "accepted": len(log.accepted),
        "unanswered": log.unanswered,
        "carrier_copies": sum(texts.values()),
        "duplicates": duplicates,
        "in_flight_at_kills": unfinished_at_kills,
        "tenant_receipt_duplicates": sum(n - 1 for n in log.receipts.values()),
        "binds": log.binds,
    }


@pytest.mark.timeout(150)
async def test_kill9_three_times_under_load_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 1_000_000))
    report = await kill_loop(tmp_path, kills=3, rate=200, seed=seed)
    print("kill -9 x3:", report)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_kill9_ten_times_at_higher_rate(tmp_path: Path) -> None:
    seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 1_000_000))
    report = await kill_loop(tmp_path, kills=10, rate=600, seed=seed)
    print("kill -9 x10:", report)
