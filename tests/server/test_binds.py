"""Bind authentication and session-state refusals, each with its exact SMPP status."""

from __future__ import annotations

import ipaddress
import struct

import pytest
import trio

from smsswitch.smpp.constants import SMPP_VERSION_34, CommandId, Tag
from smsswitch.smpp.constants import CommandStatus as S
from smsswitch.smpp.pdu import (
    BindTransmitter,
    EnquireLink,
    GenericNack,
    SubmitSm,
    Unbind,
)
from tests.server.conftest import DEST, PASSWORD, make_config, make_tenant, running_server


async def test_bind_ok_reports_interface_version_and_counts() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.client()
            response = await client.bind("acme", PASSWORD, "transmitter")
            assert response.command_id == CommandId.BIND_TRANSMITTER_RESP
            assert response.command_status == S.ESME_ROK
            assert response.system_id == "smsswitch"  # type: ignore[attr-defined]
            assert response.tlvs[Tag.SC_INTERFACE_VERSION] == SMPP_VERSION_34
            assert run.server.stats()["binds"] == {"acme": {"transmitter": 1}}
            response = await client.request(Unbind())
            assert response.command_id == CommandId.UNBIND_RESP
            assert await client.recv() is None  # closed after unbind_resp
            with trio.fail_after(2):
                while run.server.stats()["binds"]:
                    await trio.sleep(0.01)


@pytest.mark.parametrize(
    ("tenant_kwargs", "system_id", "password", "kind", "status"),
    [
        ({}, "nobody", PASSWORD, "transceiver", S.ESME_RINVSYSID),
        ({}, "acme", "wrong", "transceiver", S.ESME_RINVPASWD),
        ({"bind_types": frozenset({"transmitter"})}, "acme", PASSWORD, "receiver", S.ESME_RBINDFAIL),
        ({"allowed_networks": (ipaddress.ip_network("10.0.0.0/8"),)}, "acme", PASSWORD, "transmitter",
         S.ESME_RBINDFAIL),
    ],
    ids=["unknown_system_id", "bad_password", "bind_type_not_allowed", "ip_not_allowed"],
)
async def test_bind_refusals(tenant_kwargs, system_id, password, kind, status) -> None:  # type: ignore[no-untyped-def]
    with trio.fail_after(10):
        async with running_server(tenants=[make_tenant(**tenant_kwargs)]) as run:
            client = await run.client()
            response = await client.bind(system_id, password, kind)
            assert response.command_status == status
            # The session is OPEN again: submits are refused as before bind.
            response = await client.request(SubmitSm(source_addr="1234", destination_addr=DEST))
            assert response.command_status == S.ESME_RINVBNDSTS
            assert sum(run.server.stats()["refusals"].values()) == 1


async def test_allowed_network_accepts_loopback() -> None:
    tenant = make_tenant(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    with trio.fail_after(10):
        async with running_server(tenants=[tenant]) as run:
            await run.bound()


async def test_max_binds_then_slot_freed() -> None:
    with trio.fail_after(10):
        async with running_server(tenants=[make_tenant(max_binds=2)]) as run:
            first = await run.bound()
            second = await run.bound()  # noqa: F841  (kept open: it holds a slot)
            third = await run.client()
            assert (await third.bind("acme", PASSWORD)).command_status == S.ESME_RBINDFAIL
            assert run.server.stats()["refusals"] == {"max_binds": 1}
            await first.request(Unbind())
            with trio.fail_after(2):
                while run.server.stats()["binds"]["acme"]["transceiver"] != 1:
                    await trio.sleep(0.01)
            assert (await third.bind("acme", PASSWORD)).command_status == S.ESME_ROK


async def test_second_bind_on_session_is_already_bound() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.bound()
            response = await client.request(BindTransmitter(system_id="acme", password=PASSWORD))
            assert response.command_status == S.ESME_RALYBND


async def test_pdu_before_bind_and_enquire_link_before_bind() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.client()
            response = await client.request(SubmitSm(source_addr="1234", destination_addr=DEST))
            assert (response.command_id, response.command_status) == (CommandId.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS)
            response = await client.request(EnquireLink())
            assert (response.command_id, response.command_status) == (CommandId.ENQUIRE_LINK_RESP, S.ESME_ROK)


async def test_unknown_command_gets_generic_nack() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.bound()
            await client.send_bytes(struct.pack(">IIII", 16, 0x00000077, 0, 42))
            response = await client.recv()
            assert isinstance(response, GenericNack)
            assert (response.command_status, response.sequence_number) == (S.ESME_RINVCMDID, 42)
            assert (await client.request(EnquireLink())).command_status == S.ESME_ROK  # still up


async def test_oversized_command_length_closes_only_that_connection() -> None:
    config = make_config(max_command_length=1024)
    with trio.fail_after(10):
        async with running_server(config) as run:
            good = await run.bound()
            bad = await run.bound()
            await bad.send_bytes(struct.pack(">IIII", 5000, CommandId.SUBMIT_SM, 0, 7) + b"\0" * 100)
            response = await bad.recv()
            assert isinstance(response, GenericNack)
            assert response.command_status == S.ESME_RINVCMDLEN
            assert await bad.recv() is None  # framing lost: closed
            response = await good.request(SubmitSm(source_addr="1234", destination_addr=DEST, short_message=b"hi"))
            assert response.command_status == S.ESME_ROK
            assert run.server.stats()["protocol_errors"] == 1


async def test_malformed_body_answered_with_its_status_session_survives() -> None:
    with trio.fail_after(10):
        async with running_server() as run:
            client = await run.bound()
            # submit_sm whose body stops after service_type: the codec's own status, resp kept.
            body = b"CMT\0"
            await client.send_bytes(struct.pack(">IIII", 16 + len(body), CommandId.SUBMIT_SM, 0, 9) + body)
            response = await client.recv()
            assert response is not None and response.sequence_number == 9
            assert response.command_status != S.ESME_ROK
            assert (await client.request(EnquireLink())).command_status == S.ESME_ROK


async def test_failed_binds_per_ip_limit_blocks_even_good_password() -> None:
    config = make_config(failed_binds_per_ip_per_minute=3)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.client()
            for _ in range(3):
                assert (await client.bind("acme", "wrong")).command_status == S.ESME_RINVPASWD
            assert (await client.bind("acme", PASSWORD)).command_status == S.ESME_RBINDFAIL
            assert run.server.stats()["refusals"]["too_many_failed_binds"] == 1


async def test_failed_bind_is_delayed() -> None:
    config = make_config(failed_bind_delay=0.3)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.client()
            start = trio.current_time()
            assert (await client.bind("acme", "wrong")).command_status == S.ESME_RINVPASWD
            assert trio.current_time() - start >= 0.3


async def test_no_bind_within_bind_timeout_closes() -> None:
    config = make_config(bind_timeout=0.3)
    with trio.fail_after(10):
        async with running_server(config) as run:
            client = await run.client()
            assert await client.recv() is None
            assert run.server.stats()["refusals"]["bind_timeout"] == 1


async def test_connection_caps() -> None:
    config = make_config(max_connections_per_ip=2)
    with trio.fail_after(10):
        async with running_server(config) as run:
            clients = [await run.bound(), await run.bound()]  # noqa: F841
            third = await run.client()
            assert await third.recv() is None
            assert run.server.stats()["refusals"]["max_connections_per_ip"] == 1
