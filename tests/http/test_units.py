"""Pure parts of the HTTP edge: submit building, retry verdicts, signatures, expiry of
idempotency keys and callback URLs."""

from __future__ import annotations

import pytest

from smsswitch.http.callbacks import CallbackStore, check_url
from smsswitch.http.errors import ApiError
from smsswitch.http.idempotency import IdempotencyStore
from smsswitch.http.retry import outcome_of_status, parse_retry_after
from smsswitch.http.signing import signature, verify
from smsswitch.http.submit import MessageInput, build_submit_sm, parse_message, relative_time
from smsswitch.journal.journal import Journal
from smsswitch.server.smpp_time import parse_smpp_time
from smsswitch.smpp.constants import Tag


def test_validity_becomes_an_smpp_relative_time() -> None:
    assert relative_time(3600) == "000000010000000R"
    assert relative_time(2 * 86400 + 61) == "000002000101000R"
    assert parse_smpp_time(relative_time(90061), 1000.0) == 1000.0 + 90061


def test_submit_sm_built_like_an_esme_would() -> None:
    pdu, parts = build_submit_sm(MessageInput(to="+263771234567", sender="ACME", text="hi", validity=600))
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.source_addr_ton, pdu.data_coding) == ("+263771234567", 1, 5, 0)
    assert pdu.short_message == b"hi" and pdu.registered_delivery == 1 and parts == 1 and pdu.validity_period
    pdu, parts = build_submit_sm(MessageInput(to="0771234567", sender="60682", text="Ж" * 300, receipt=False))
    assert (pdu.dest_addr_ton, pdu.source_addr_ton, pdu.data_coding, pdu.registered_delivery) == (0, 0, 8, 0)
    assert pdu.short_message == b"" and len(pdu.tlvs[Tag.MESSAGE_PAYLOAD]) == 600 and parts == 5
    with pytest.raises(ApiError) as err:
        parse_message({"to": "x", "from": "y", "text": "z", "receipt": "yes"})
    assert err.value.code == "invalid_request"
    with pytest.raises(ApiError):
        parse_message({"to": "x", "from": "y", "text": "z", "dataCoding": True})


def test_retry_verdicts() -> None:
    assert outcome_of_status(204, None, 0).verdict == "ok"
    for status in (408, 429, 500, 502, 503, 504):
        assert outcome_of_status(status, None, 0).verdict == "retry"
    for status in (301, 400, 401, 403, 404, 410, 422):
        assert outcome_of_status(status, None, 0).verdict == "permanent"
    assert outcome_of_status(429, "30", 0).retry_after == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 60) == 60.0
    assert parse_retry_after("soon", 0) is None


def test_signature_rejects_tampering_and_old_timestamps() -> None:
    header = signature("k", 1000, b"{}")
    assert verify("k", header, b"{}", 1000) and verify("k", header, b"{}", 1299)
    assert not verify("k", header, b"{}", 1301) and not verify("k", header, b"{ }", 1000)
    rotated = header + ",v1=" + "0" * 64  # a second signature beside it (key rotation) still verifies
    assert verify("k", rotated, b"{}", 1000) and not verify("k", None, b"{}", 1000)
    assert not verify("k", "t=x,v1=y", b"{}", 1000)


def test_callback_urls_must_be_http() -> None:
    assert check_url("https://hooks.example.com/x?y=1") == "https://hooks.example.com/x?y=1"
    for bad in ("ftp://x/y", "/relative", "http://", "https://h:99999/", 7, "http://h/\n"):
        with pytest.raises(ApiError):
            check_url(bad)
    for internal in ("http://127.0.0.1:9775/metrics", "http://10.0.0.5/", "http://[::1]/", "http://localhost/",
                     "http://169.254.169.254/latest"):
        assert check_url(internal) == internal
        with pytest.raises(ApiError):
            check_url(internal, private_ok=False)
    assert check_url("https://hooks.example.com/", private_ok=False)


async def test_idempotency_keys_and_callbacks_expire(journal: Journal) -> None:
    now = [1000.0]
    store = IdempotencyStore(journal, ttl=60.0, clock=lambda: now[0])
    callbacks = CallbackStore(journal, ttl=60.0, clock=lambda: now[0])
    await store.begin("acme", "k1", "f")
    await store.finish("acme", "k1", "f", 202, b"{}", [callbacks.op("m1", "http://h/")])
    assert store.lookup("acme", "k1", "f").status == 202 and callbacks.get("m1") == "http://h/"
    with pytest.raises(ApiError) as err:
        store.lookup("acme", "k1", "other")
    assert err.value.code == "idempotency_key_reused"
    await store.begin("acme", "k2", "f")
    store.abandon("acme", "k2")  # the submit's outcome is unknown: a retry must not send again
    with pytest.raises(ApiError) as err:
        store.lookup("acme", "k2", "f")
    assert err.value.code == "idempotency_outcome_unknown"
    now[0] += 61
    assert store.lookup("acme", "k1", "f") is None
    assert await store.purge_expired() == 2 and await callbacks.purge_expired() == 1
    assert callbacks.get("m1") is None
