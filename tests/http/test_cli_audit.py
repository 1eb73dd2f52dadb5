"""`smsswitch audit` lists what the API recorded (read-only, beside the writer);
`smsswitch apikey new` makes a key the KeyRing accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smsswitch.http import cli
from smsswitch.http.audit import AuditLog
from smsswitch.http.auth import ApiKey, KeyRing
from smsswitch.http.errors import ApiError
from smsswitch.journal.journal import JournalConfig, open_journal


async def test_audit_lists_records_oldest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal"
    async with open_journal(JournalConfig(path=path, sync=False)) as journal:
        log = AuditLog(journal)
        await log.record("ops", "ops", "routes.reload", None, "200", "127.0.0.1", {"result": "ok"})
        await log.record("acme-admin", "acme", "suppression.add", "+26377*****67", "201", "127.0.0.1")
        await log.record("ops", "ops", "erase", "+26377*****67", "200", "10.1.2.3", {"messages": 3})
    # (LMDB opens an environment once per process: the CLI reads it after the writer closed)
    assert cli.main(["audit", "--path", str(path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["actor"], x["action"]) for x in lines] == [
        ("ops", "routes.reload"), ("acme-admin", "suppression.add"), ("ops", "erase")]
    assert lines[2]["detail"] == {"messages": 3} and lines[0]["id"] < lines[1]["id"] < lines[2]["id"]
    assert cli.main(["audit", "--path", str(path), "--actor", "ops", "--action", "erase"]) == 0
    out = capsys.readouterr().out
    assert "+26377*****67" in out and "1 record(s)" in out and "routes.reload" not in out
    assert cli.main(["audit", "--path", str(path), "--after", lines[1]["id"], "--since", "1h", "--json"]) == 0
    assert [json.loads(x)["action"] for x in capsys.readouterr().out.splitlines()] == ["erase"]
    assert cli.main(["audit", "--path", str(Path(path) / "missing")]) == 1


async def test_apikey_new_makes_a_working_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apikey", "new", "--id", "acme-1", "--scopes", "send,admin"]) == 0
    out = capsys.readouterr().out
    token = out.split("stored anywhere): ")[1].split()[0]
    key_hash = out.split("key_hash: '")[1].split("'")[0]
    ring = KeyRing([ApiKey("acme-1", "acme", key_hash, frozenset({"send", "admin"}))])
    principal = await ring.authenticate(f"Bearer {token}", "127.0.0.1")
    assert (principal.tenant, principal.key_id, principal.audited) == ("acme", "acme-1", True)
    principal = await ring.authenticate(f"Bearer {token}", "127.0.0.1")  # from the cache
    with pytest.raises(ApiError):
        await ring.authenticate(f"Bearer {token}x", "127.0.0.1")
    assert cli.main(["apikey", "new", "--id", "x", "--scopes", "root"]) == 2
    assert cli.main(["apikey", "new", "--id", "bad id"]) == 2
