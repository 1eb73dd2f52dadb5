"""POST/GET /v1/messages on the real switch: validation shared with SMPP, idempotency,
throttling, auth and scopes, JSON errors."""

from __future__ import annotations

from pathlib import Path

import trio

from smsswitch.journal.records import MessageState
from tests.http.stack import DEST, running, tenant


def count_messages(stack, name: str = "acme") -> int:  # type: ignore[no-untyped-def]
    with stack.journal.read() as txn:
        return sum(1 for _ in stack.journal.store.iter_tenant_messages(txn, name))


async def test_send_then_follow_to_delivered(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http:
        r = await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "hello", "clientReference": "o-1"})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "accepted" and body["parts"] == 1 and body["clientReference"] == "o-1"
        message_id = body["messageId"]
        await stack.wait_for(lambda: stack.journal.get(message_id).state is MessageState.DELIVERED)
        r = await http.get(f"/v1/messages/{message_id}")
        assert r.status_code == 200
        got = r.json()
        assert (got["status"], got["final"], got["toNumber"], got["carrier"]) == ("delivered", True, DEST, "sim")
        assert got["clientReference"] == "o-1"
        assert [h["status"] for h in got["history"]][0] == "accepted" and got["history"][-1]["status"] == "delivered"
        # what the carrier got is what an SMPP tenant's submit would have given
        sent = stack.sim.received()[-1]
        assert (sent["destination"], sent["source"], sent["text"], sent["registered_delivery"]) == (DEST[1:], "ACME", "hello", 1)


async def test_long_unicode_text_goes_as_one_payload(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http:
        r = await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "Привет " * 40})
        assert r.status_code == 202 and r.json()["parts"] == 5
        record = stack.journal.get(r.json()["messageId"])
        assert record.data_coding == 8 and len(record.payload) == 560


async def test_validation_errors_carry_stable_codes_and_smpp_status(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http:
        cases = [
            ({"to": "+12", "from": "ACME", "text": "x"}, 400, "invalid_destination"),
            ({"to": "hello", "from": "ACME", "text": "x"}, 400, "invalid_destination"),
            ({"to": DEST, "from": "TOO-LONG-SENDER", "text": "x"}, 400, "invalid_sender"),
            ({"to": DEST, "from": "ACME", "text": "x", "dataCoding": 0x77}, 400, "invalid_data_coding"),
            ({"to": DEST, "from": "ACME", "text": "Привет", "dataCoding": 3}, 400, "text_not_encodable"),
            ({"to": DEST, "from": "ACME", "text": "x" * 1600}, 400, "text_too_long"),
            ({"to": DEST, "from": "ACME", "text": "x", "colour": "red"}, 400, "invalid_request"),
            ({"to": DEST, "from": "ACME"}, 400, "invalid_request"),
            ({"to": DEST, "from": "ACME", "text": "x", "callbackUrl": "ftp://x"}, 400, "invalid_callback_url"),
            ({"to": DEST, "from": "ACME", "text": "x", "callbackUrl": "https://h.example/cb"}, 400, "callbacks_not_enabled"),
            ([1, 2], 400, "invalid_request"),
        ]
        for body, status, code in cases:
            r = await http.post("/v1/messages", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
        r = await http.post("/v1/messages", json={"to": "+12", "from": "ACME", "text": "x"})
        assert r.json()["error"]["smppStatus"] == "ESME_RINVDSTADR"
        r = await http.post("/v1/messages", content=b"{not json")
        assert r.json()["error"]["code"] == "invalid_json"
        r = await http.post("/v1/messages", content=b"{" + b" " * 20000 + b"}")
        assert r.status_code == 413
        r = await http.get("/v1/nope")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
        r = await http.delete("/v1/messages")
        assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")
        assert count_messages(stack) == 0


async def test_idempotency_key_returns_the_first_result_never_a_second_message(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http:
        body = {"to": DEST, "from": "ACME", "text": "pay 10"}
        first = await http.post("/v1/messages", json=body, headers={"Idempotency-Key": "k-1"})
        again = await http.post("/v1/messages", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
        assert count_messages(stack) == 1
        other = await http.post("/v1/messages", json={**body, "text": "pay 20"}, headers={"Idempotency-Key": "k-1"})
        assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
        # a refused message leaves the key free
        bad = {"to": "+12", "from": "ACME", "text": "x"}
        assert (await http.post("/v1/messages", json=bad, headers={"Idempotency-Key": "k-2"})).status_code == 400
        fixed = await http.post("/v1/messages", json={**bad, "to": DEST}, headers={"Idempotency-Key": "k-2"})
        assert fixed.status_code == 202 and count_messages(stack) == 2
        # keys are per tenant, and durable: the store answers from the journal
        async with stack.client("beta-send") as beta:
            assert (await beta.post("/v1/messages", json=body, headers={"Idempotency-Key": "k-1"})).status_code == 202
        assert stack.api.idempotency.get("acme", "k-1").status == 202


async def test_concurrent_retries_with_one_key_make_one_message(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-send") as http:
        body = {"to": DEST, "from": "ACME", "text": "once"}
        answers: list[int] = []

        async def post() -> None:
            r = await http.post("/v1/messages", json=body, headers={"Idempotency-Key": "same"})
            answers.append(r.status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(post)
        assert count_messages(stack) == 1
        assert answers.count(202) >= 1 and set(answers) <= {202, 409}


async def test_throttled_above_tenant_tps(tmp_path: Path) -> None:
    tenants = (tenant("acme", tenant_tps=1.0), tenant("beta"), tenant("ops"))
    async with running(tmp_path, tenants=tenants) as stack, stack.client("acme-send") as http:
        body = {"to": DEST, "from": "ACME", "text": "x"}
        statuses = [(await http.post("/v1/messages", json=body)) for _ in range(3)]
        assert statuses[0].status_code == 202
        throttled = [r for r in statuses if r.status_code == 429]
        assert throttled and throttled[0].json()["error"]["code"] == "throttled" and "retry-after" in throttled[0].headers


async def test_auth_scopes_networks_and_tenant_isolation(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        body = {"to": DEST, "from": "ACME", "text": "x"}
        async with stack.client() as anonymous:
            r = await anonymous.post("/v1/messages", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
            r = await anonymous.post("/v1/messages", json=body, headers={"Authorization": "Bearer acme-send.wrong"})
            assert r.status_code == 401
        async with stack.client("acme-read") as reader:
            r = await reader.post("/v1/messages", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
        async with stack.client("acme-vpn") as vpn:
            r = await vpn.post("/v1/messages", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (403, "address_not_allowed")
        async with stack.client("acme-send") as acme, stack.client("beta-send") as beta:
            message_id = (await acme.post("/v1/messages", json=body)).json()["messageId"]
            assert (await acme.get(f"/v1/messages/{message_id}")).status_code == 200
            r = await beta.get(f"/v1/messages/{message_id}")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "message_not_found")
            assert (await acme.get("/v1/messages/not-an-id")).status_code == 404
            assert (await acme.get("/v1/suppressions")).status_code == 403


async def test_failed_authentications_are_limited_per_address(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client() as http:
        bad = {"Authorization": "Bearer acme-send.guess"}
        statuses = [(await http.get("/v1/events", headers=bad)).status_code for _ in range(22)]
        assert statuses[0] == 401 and statuses[-1] == 429
