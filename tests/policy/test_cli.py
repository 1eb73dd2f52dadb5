"""`policy check` as an operator runs it: the verdict, the reason, the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smsswitch.policy.cli import main

REPO = Path(__file__).resolve().parent.parent.parent
POLICY = str(REPO / "config" / "policy.yaml")
DAEMON = str(REPO / "config" / "smsswitch.yaml")
OTP = "Your code is 123456. It expires in 5 minutes."


def run(capsys, *args: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(["check", "--policy", POLICY, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_allowed_with_template(capsys) -> None:  # noqa: ANN001
    code, out, _ = run(capsys, "--tenant", "acme", "--from", "ACME", "--to", "+447400123456", "--text", OTP)
    assert code == 0
    assert out.splitlines() == [
        f"policy {POLICY}, tenant acme",
        "  from     'ACME' (alphanumeric)",
        "  to       +447400123456 (GB, mobile, valid)",
        "  text     45 characters, data_coding 0",
        "verdict: ok template=otp",
    ]


def test_rejections_print_status_and_reason_and_exit_1(capsys) -> None:  # noqa: ANN001
    uk, text = ["--to", "+447400123456"], ["--text", OTP]
    cases = [
        (["--tenant", "acme", "--from", "EVIL", *uk, *text],
         "reject ESME_RINVSRCADR (0x0A) [sender]: sender 'EVIL' is not allowed for acme"),
        (["--tenant", "acme", "--from", "ACME", "--to", "+33612345678", *text],
         "reject ESME_RINVDSTADR (0x0B) [country]: destination country FR is not allowed for acme (allowed: GB, ZW)"),
        (["--tenant", "demo", "--from", "DEMO", "--to", "+447700900123", *text],
         "reject ESME_RINVDSTADR (0x0B) [destination]: destination is in a range not assigned in +44 (GB)"),
        (["--tenant", "demo", "--from", "DEMO", "--to", "+263770000000", *text],
         "reject ESME_RX_R_APPN (0x66) [block_list]: recipient is on the operator block list"),
        (["--tenant", "demo", "--from", "DEMO", *uk, *text, "--opted-out"],
         "reject ESME_RX_R_APPN (0x66) [opt_out]: recipient opted out of demo"),
        (["--tenant", "acme", "--from", "ACME", *uk, "--text", "Buy now"],
         "reject ESME_RINVMSGLEN (0x01) [template]: text matches none of acme's 3 approved template(s)"),
    ]  # fmt: skip
    for argv, expected in cases:
        code, out, _ = run(capsys, *argv)
        assert code == 1, (argv, out)
        assert out.splitlines()[-1] == "verdict: " + expected


def test_ucs2_text_and_json(capsys) -> None:  # noqa: ANN001
    text = "Votre code est 1234. Il expire dans 5 minutes. é"
    code, out, _ = run(capsys, "--tenant", "acme", "--from", "ACME", "--to", "+447400123456", "--text", text, "--data-coding", "8", "--json")
    data = json.loads(out)
    assert code == 1  # the trailing "é" is not in the template
    assert data["status"] == "ESME_RINVMSGLEN" and data["text_seen"] == text and data["to"] == "+447400123456"


def test_config_finds_the_policy_file_and_checks_tenant_names(capsys, tmp_path) -> None:  # noqa: ANN001
    daemon = tmp_path / "smsswitch.yaml"
    daemon.write_text("policy: p.yaml\ntenants:\n  acme: {default_region: GB}\n")
    (tmp_path / "p.yaml").write_text("tenants:\n  acme: {senders: {allow: [ACME]}}\n  ghost: {}\n")
    assert main(["policy", "check", "--config", str(daemon), "--tenant", "acme", "--from", "X", "--to", "07400123456", "--text", "hi"]) == 1
    err = capsys.readouterr().err
    assert err == f"{tmp_path / 'p.yaml'}:3:3: error: unknown tenant 'ghost' (hint: known tenants: acme)\n"
    (tmp_path / "p.yaml").write_text("tenants:\n  acme: {senders: {allow: [ACME]}}\n")
    assert main(["check", "--config", str(daemon), "--tenant", "acme", "--from", "X", "--to", "07400123456", "--text", "hi"]) == 1
    assert "verdict: reject ESME_RINVSRCADR" in capsys.readouterr().out


def test_module_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smsswitch.policy.cli", "check", "--config", DAEMON, "--policy", POLICY,
         "--tenant", "demo", "--from", "DEMO", "--to", "+263771234567", "--text", "hi"],  # fmt: skip
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "verdict: ok"
