"""MO from the carrier to the right tenant by short code and keyword; STOP/START opt-outs
that refuse and then allow MT; MO nobody takes ends in the dead letters."""

from __future__ import annotations

from pathlib import Path

import trio

from smsswitch.core.accept import OPTED_OUT_STATUS
from smsswitch.smpp.constants import CommandStatus as S
from tests.core.harness import DEST, SHORT_CODE, running
from tests.core.tenant import SmpplibTenant


async def _bound(port: int, name: str, kind: str = "transceiver") -> SmpplibTenant:
    client = SmpplibTenant(port, name, kind)
    await trio.to_thread.run_sync(client.bind)
    return client


async def test_mo_keyword_goes_to_its_tenant_and_the_rest_to_the_short_code_owner(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            acme = await _bound(h.port, "acme", "receiver")
            beta = await _bound(h.port, "beta", "receiver")
            try:
                await h.sim.inject_mo(DEST, SHORT_CODE, "60682 hello there")
                await h.sim.inject_mo(DEST, SHORT_CODE, "Just saying hi")
                (mo,) = await trio.to_thread.run_sync(acme.wait_deliveries, 1)
                (other,) = await trio.to_thread.run_sync(beta.wait_deliveries, 1)
            finally:
                await trio.to_thread.run_sync(acme.close)
                await trio.to_thread.run_sync(beta.close)
            assert mo.esm_class == 0 and mo.text == b"60682 hello there"
            assert (mo.source, mo.destination) == (DEST, SHORT_CODE)
            assert other.text == b"Just saying hi"
            stats = h.switch.stats()
            assert stats["mo_in"]["delivered"] == 2
            await h.wait_for(lambda: h.switch.stats()["outbox_depth"] == 0)


async def test_stop_refuses_mt_until_start(tmp_path: Path) -> None:
    """STOP to the short code concerns the tenant its MO rule names (beta here): beta's MT
    to that subscriber is refused until START; acme's MT to the same number is not."""
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            beta = await _bound(h.port, "beta")
            acme = await _bound(h.port, "acme", "transmitter")
            try:
                status, _ = await trio.to_thread.run_sync(lambda: beta.submit(DEST, "before", 0))
                assert status == S.ESME_ROK
                await h.sim.inject_mo(DEST, SHORT_CODE, "Stop")
                (stop,) = await trio.to_thread.run_sync(beta.wait_deliveries, 1)  # the tenant hears it too
                assert stop.text == b"Stop"
                status, message_id = await trio.to_thread.run_sync(lambda: beta.submit(DEST, "after stop", 0))
                assert (status, message_id) == (OPTED_OUT_STATUS, "")
                # Another subscriber, and another tenant's messages to this one, are unaffected.
                status, _ = await trio.to_thread.run_sync(lambda: beta.submit("263771234568", "other", 0))
                assert status == S.ESME_ROK
                status, _ = await trio.to_thread.run_sync(lambda: acme.submit(DEST, "acme is fine", 0))
                assert status == S.ESME_ROK
                await h.sim.inject_mo(DEST, SHORT_CODE, "START")
                await trio.to_thread.run_sync(beta.wait_deliveries, 2)
                status, _ = await trio.to_thread.run_sync(lambda: beta.submit(DEST, "welcome back", 0))
                assert status == S.ESME_ROK
            finally:
                await trio.to_thread.run_sync(beta.close)
                await trio.to_thread.run_sync(acme.close)
            stats = h.switch.stats()
            assert (stats["mo_in"]["opt_out"], stats["mo_in"]["opt_in"]) == (1, 1)


async def test_mo_nobody_takes_is_a_dead_letter(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(tmp_path) as h:
            await h.sim.inject_mo(DEST, "99999", "anyone?")
            await h.wait_for(lambda: h.journal.counts()["dead_letters"] == 1)
            (letter,) = h.journal.dead_letters()
            assert letter.reason.startswith("MO:") and letter.entry is not None
            assert letter.entry.payload["sm"] == b"anyone?"
            assert h.switch.stats()["mo_in"]["dead_letter"] == 1
