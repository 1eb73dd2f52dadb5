"""`routes check` / `routes explain` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smsswitch.routing.cli import main

HERE = Path(__file__).parent
REPO = HERE.parent.parent
FULL = str(HERE / "good" / "full.yaml")
NAMES = ["--tenants", "demo,acme,beta", "--connectors", "sim,backup,cheap"]


def test_check_good_file(capsys) -> None:  # noqa: ANN001
    assert main(["check", FULL, *NAMES]) == 0
    assert capsys.readouterr().out == f"{FULL}: OK, 0 warning(s)\n"


def test_check_without_names_says_they_were_not_checked(capsys) -> None:  # noqa: ANN001
    assert main(["routes", "check", FULL]) == 0
    assert "tenant and connector names not checked (give --config)" in capsys.readouterr().out


def test_check_bad_file(capsys) -> None:  # noqa: ANN001
    path = str(HERE / "broken" / "unknown_key.yaml")
    assert main(["check", path, *NAMES]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}:4:13: error: unknown key 'prefix' in mt match (hint: did you mean 'prefixes'?)",
        f"{path}:5:5: error: unknown key 'conector' in mt rule (hint: did you mean 'connectors'?)",
    ]
    assert captured.err == f"{path}: 2 error(s), 0 warning(s)\n"


def test_check_against_daemon_config(capsys, tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "smsswitch.yaml"
    config.write_text("routes: routes.yaml\ntenants:\n  - {system_id: demo}\nconnectors:\n  - {name: sim}\n")
    (tmp_path / "routes.yaml").write_text("version: 1\nmt:\n  - {name: a, match: {tenants: [acme]}, connectors: [sim]}\n")
    assert main(["check", str(tmp_path / "routes.yaml"), "--config", str(config)]) == 1
    assert "3:33: error: unknown tenant 'acme' (hint: known tenants: demo)" in capsys.readouterr().out


def test_example_route_table_checks_clean_against_example_config(capsys) -> None:  # noqa: ANN001
    code = main(["check", str(REPO / "config" / "routes.yaml"), "--config", str(REPO / "config" / "smsswitch.yaml")])
    assert code == 0, capsys.readouterr().out


def test_explain_mt(capsys) -> None:  # noqa: ANN001
    code = main(["explain", "--routes", FULL, "--tenant", "acme", "--to", "+263771234567", "--from", "ACME",
                 "--at", "2024-05-15T12:00+02:00"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "MT tenant=acme to=+263771234567 (ZW, mobile, Econet) from=ACME data_coding=0 at=2024-05-15T12:00+02:00"
    assert out[-1] == "=> rule acme-otp: connectors via sim -> backup (failover in this order)"


def test_explain_national_number_uses_the_tenants_region_from_config(capsys) -> None:  # noqa: ANN001
    config = str(REPO / "config" / "smsswitch.yaml")
    assert main(["explain", "--config", config, "--tenant", "demo", "--to", "0771234567", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["to"].startswith("+263771234567 (ZW")
    assert data["decision"]["rule"] == "zw-mobile" and data["decision"]["connectors"] == ["sim"]


def test_explain_mo(capsys) -> None:  # noqa: ANN001
    args = ["explain", "--routes", FULL, "--mo", "--to", "60682", "--text", "60682 hello", "--from", "+263771234567"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "=> rule demo-keyword: deliver to tenant demo via smpp, webhook"


def test_explain_on_a_broken_table_prints_errors(capsys) -> None:  # noqa: ANN001
    assert main(["explain", "--routes", str(HERE / "broken" / "version.yaml"), "--tenant", "a", "--to", "+263771234567"]) == 1
    assert "unsupported route file version 2" in capsys.readouterr().err


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smsswitch.routing.cli", "check", str(HERE / "broken" / "syntax.yaml")],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 1
    assert ":5:9: error: YAML syntax error" in result.stdout
