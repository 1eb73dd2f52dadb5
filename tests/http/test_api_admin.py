"""Opt-out lists (STOP from the carrier and the API, one store), erase, route reload,
redrive and the audit trail, on the real switch."""

from __future__ import annotations

from pathlib import Path

from smsswitch.http import audit
from smsswitch.journal import keys
from smsswitch.journal.records import MessageState
from tests.http.stack import DEST, OTHER, SHORT_CODE, Stack, running


def traces(stack: Stack, number: str) -> list[tuple[bytes, str]]:
    with stack.journal.read() as txn:
        return list(stack.journal.store.iter_msisdn(txn, keys.msisdn_digits(number)))


async def test_stop_mo_blocks_mt_and_the_list_is_shared_with_the_api(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, stack.client("acme-admin") as http:
        body = {"to": DEST, "from": "ACME", "text": "offer"}
        assert (await http.post("/v1/messages", json=body)).status_code == 202
        await stack.sim.inject_mo(DEST[1:], SHORT_CODE, "STOP")
        await stack.wait_for(lambda: stack.api.optouts.get("acme", DEST) is not None)
        listed = (await http.get("/v1/suppressions")).json()
        assert [i["number"] for i in listed["items"]] == [DEST] and listed["next"] == DEST
        r = await http.post("/v1/messages", json=body)
        assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["smppStatus"]) == (
            422, "recipient_opted_out", "ESME_RX_R_APPN")
        # opting back in through the API lets messages through again
        assert (await http.delete(f"/v1/suppressions/{DEST}")).status_code == 204
        assert (await http.delete(f"/v1/suppressions/{DEST}")).status_code == 404
        assert (await http.post("/v1/messages", json=body)).status_code == 202
        # and a number opted out through the API (national form) is refused like a STOP
        r = await http.post("/v1/suppressions", json={"number": "0772345678"})
        assert (r.status_code, r.json()["number"]) == (201, OTHER)
        assert (await http.post("/v1/suppressions", json={"number": OTHER})).status_code == 200
        r = await http.post("/v1/messages", json={**body, "to": OTHER})
        assert r.json()["error"]["code"] == "recipient_opted_out"
        # another tenant's list is its own
        async with stack.client("beta-send") as beta:
            assert (await beta.post("/v1/messages", json={**body, "to": OTHER})).status_code == 202
            assert (await beta.get("/v1/suppressions")).json()["items"] == []
        assert (await http.post("/v1/suppressions", json={"number": "hello"})).json()["error"]["code"] == "invalid_number"
        actions = [(e.actor, e.action, e.target, e.outcome) for e in audit.entries(stack.journal)]
    assert ("acme-admin", "suppression.add", "+26377*****78", "201") in actions
    assert ("acme-admin", "suppression.remove", "+26377*****67", "204") in actions
    assert ("acme-admin", "messages.send", None, "202") in actions  # every use of an admin-scoped key
    assert ("beta-send", "suppression.list", None, "200") in actions


async def test_erase_removes_a_number_everywhere(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        async with stack.client("acme-send") as acme, stack.client("beta-send") as beta:
            ids = []
            for http in (acme, beta, acme):
                ids.append((await http.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "x"})).json()["messageId"])
            keep = (await acme.post("/v1/messages", json={"to": OTHER, "from": "ACME", "text": "y"})).json()["messageId"]
        await stack.wait_for(lambda: all(stack.journal.get(i).state is MessageState.DELIVERED for i in ids))
        await stack.sim.inject_mo(DEST[1:], SHORT_CODE, "STOP")  # opt-out + an MO owed to acme (no receiver bound)
        await stack.wait_for(lambda: stack.api.optouts.get("acme", DEST) is not None)
        assert traces(stack, DEST)
        async with stack.client("acme-admin") as admin:
            r = await admin.post("/v1/admin/erase", json={"number": DEST})
            assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
        async with stack.client("ops") as ops:
            r = await ops.post("/v1/admin/erase", json={"number": DEST})
        assert r.status_code == 200, r.text
        erased = r.json()
        assert erased["messages"] == 3 and erased["optOuts"] == 1 and erased["outbox"] >= 1
        assert traces(stack, DEST) == [] and stack.api.optouts.get("acme", DEST) is None
        assert all(stack.journal.get(i) is None for i in ids) and stack.journal.get(keep) is not None
        assert stack.journal.check() == []
        async with stack.client("acme-send") as acme:
            assert (await acme.get(f"/v1/messages/{ids[0]}")).status_code == 404
        logged = audit.entries(stack.journal)
    records = [e for e in logged if e.action == "erase"]
    assert [(e.actor, e.outcome) for e in records] == [("acme-admin", "denied"), ("ops", "200")]
    assert records[1].target == "+26377*****67" and records[1].detail["messages"] == 3


async def test_tenant_erase_touches_only_its_own_data(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        async with stack.client("acme-admin") as acme, stack.client("beta-send") as beta:
            mine = (await acme.post("/v1/messages", json={"to": DEST, "from": "ACME", "text": "x"})).json()["messageId"]
            theirs = (await beta.post("/v1/messages", json={"to": DEST, "from": "BETA", "text": "x"})).json()["messageId"]
            await acme.post("/v1/suppressions", json={"number": DEST})
            r = await acme.post("/v1/erase", json={"number": DEST, "keepOptOuts": True})
            assert r.status_code == 200 and r.json()["messages"] == 1 and r.json()["optOuts"] == 0
        assert stack.journal.get(mine) is None and stack.journal.get(theirs) is not None
        assert stack.api.optouts.get("acme", DEST) is not None
        assert stack.journal.check() == []


async def test_route_reload_and_redrive_are_operator_actions(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        async with stack.client("acme-admin") as admin:
            assert (await admin.post("/v1/admin/routes/reload")).status_code == 403
        async with stack.client("ops") as ops:
            r = await ops.post("/v1/admin/routes/reload")
            assert (r.status_code, r.json()) == (200, {"result": "2 MT rules, 2 MO rules"})
            stack.reloads.append("break")
            r = await ops.post("/v1/admin/routes/reload")
            assert (r.status_code, r.json()["error"]["code"]) == (422, "routes_invalid")
            assert "unknown connector" in r.json()["error"]["message"]
            r = await ops.post("/v1/admin/dead-letters/00000000000000000000/redrive")
            assert (r.status_code, r.json()["error"]["code"]) == (404, "dead_letter_not_found")
            listed = (await ops.get("/v1/admin/audit", params={"action": "routes.reload"})).json()
            assert [(i["actor"], i["outcome"]) for i in listed["items"]] == [
                ("acme-admin", "denied"), ("ops", "200"), ("ops", "422")]
            assert listed["items"][2]["detail"]["error"].startswith("routes.yaml:3:5")
            page = (await ops.get("/v1/admin/audit", params={"limit": 1})).json()
            rest = (await ops.get("/v1/admin/audit", params={"after": page["next"]})).json()
            assert len(page["items"]) == 1 and rest["items"][0]["id"] > page["items"][0]["id"]
