"""MO from the carrier to the right tenant by short code and keyword; STOP/START opt-outs
that refuse and then allow MT; MO nobody takes ends in the dead letters."""

from __future__ import annotations

from pathlib import Path

import trio

from smsswitch.core.accept import OPTED_OUT_STATUS
from smsswitch.smpp.concat import build_concat_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI
from smsswitch.smpp.constants import CommandStatus as S
from tests.core.harness import DEST, ROUTES, SHORT_CODE, running
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


def _parts(text: str, reference: int) -> list[bytes]:
    """`text` as a 3-part concatenated MO (8-bit reference UDH), GSM 7-bit octets unpacked."""
    third = -(-len(text) // 3)
    chunks = [text[i : i + third] for i in range(0, len(text), third)]
    assert len(chunks) == 3
    return [build_concat_udh(reference, 3, n + 1) + chunk.encode() for n, chunk in enumerate(chunks)]


async def _acme_and_beta_receive(h, inject) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """Bind acme and beta as receivers, run `inject`, and return what each got: acme's first
    three deliveries, and whatever beta got meanwhile and in half a second more."""
    acme = await _bound(h.port, "acme", "receiver")
    beta = await _bound(h.port, "beta", "receiver")
    try:
        await inject()
        got = await trio.to_thread.run_sync(acme.wait_deliveries, 3)
        await trio.to_thread.run_sync(beta.read_for, 0.5)
    finally:
        await trio.to_thread.run_sync(acme.close)
        await trio.to_thread.run_sync(beta.close)
    return got, beta.deliveries


async def test_a_long_keyword_mo_goes_whole_to_the_keyword_tenant(tmp_path: Path) -> None:
    """Only the first part starts with the keyword; the other two used to go to the short
    code's owner (beta): half of a subscriber's message to another tenant."""
    parts = _parts("60682 I would like to order two large pizzas with extra cheese, please deliver soon", 0x5A)
    with trio.fail_after(30):
        async with running(tmp_path) as h:

            async def in_order() -> None:
                for part in parts:
                    await h.sim.inject_mo(DEST, SHORT_CODE, part, esm_class=ESM_CLASS_UDHI)

            got, beta_got = await _acme_and_beta_receive(h, in_order)
            assert sorted(d.text for d in got) == sorted(parts)
            assert all(d.esm_class & ESM_CLASS_UDHI for d in got)
            assert beta_got == []
            assert h.switch.stats()["mo_in"]["part_with_first"] == 2


async def test_a_part_that_comes_before_its_first_part_waits_at_the_carrier(tmp_path: Path) -> None:
    parts = _parts("60682 second part first: the carrier delivers parts in any order at all", 0x21)
    with trio.fail_after(30):
        async with running(tmp_path) as h:

            async def second_first() -> None:
                await h.sim.inject_mo(DEST, SHORT_CODE, parts[1], esm_class=ESM_CLASS_UDHI)
                # Answered ESME_RX_T_APPN: the simulator keeps it and retries 0.5 s later.
                await h.wait_for(lambda: h.sim.stats()["deliver_resp_statuses"].get("0x00000064", 0) >= 1)
                assert h.switch.stats()["mo_in"]["part_sent_back"] >= 1
                await h.sim.inject_mo(DEST, SHORT_CODE, parts[0], esm_class=ESM_CLASS_UDHI)
                await h.sim.inject_mo(DEST, SHORT_CODE, parts[2], esm_class=ESM_CLASS_UDHI)

            got, beta_got = await _acme_and_beta_receive(h, second_first)
            assert sorted(d.text for d in got) == sorted(parts)
            assert beta_got == []


async def test_parts_wait_only_where_keywords_decide(tmp_path: Path) -> None:
    """To a number no keyword rule serves, every part goes the same way: none is sent back."""
    routes = {**ROUTES, "mo": [*ROUTES["mo"], {"name": "beta-line", "match": {"to": ["263779000000"]},
                                               "deliver": {"tenant": "beta"}}]}  # fmt: skip
    parts = _parts("60682 is not a keyword on this number, so nothing here waits for part one", 0x33)
    with trio.fail_after(30):
        async with running(tmp_path, routes=routes) as h:
            beta = await _bound(h.port, "beta", "receiver")
            try:
                for part in (parts[2], parts[1], parts[0]):
                    await h.sim.inject_mo(DEST, "263779000000", part, esm_class=ESM_CLASS_UDHI)
                got = await trio.to_thread.run_sync(beta.wait_deliveries, 3)
            finally:
                await trio.to_thread.run_sync(beta.close)
            assert sorted(d.text for d in got) == sorted(parts)
            assert "part_sent_back" not in h.switch.stats()["mo_in"]
