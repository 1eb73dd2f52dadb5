"""Policy files: the example loads, and broken ones are refused with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsswitch.policy import load_policy
from smsswitch.yamlconf import ConfigErrors

REPO = Path(__file__).resolve().parent.parent.parent


def errors_of(tmp_path: Path, text: str, tenants: set[str] | None = None) -> list[str]:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigErrors) as caught:
        load_policy(path, tenants)
    return [str(e).replace(str(path), "P") for e in caught.value.errors]


def test_example_policy_loads_against_the_example_daemon_tenants() -> None:
    policy = load_policy(REPO / "config" / "policy.yaml", {"demo", "acme"})
    assert policy.tenant("acme").templates_only
    assert len(policy.tenant("acme").templates) == 3  # type: ignore[arg-type]
    assert policy.tenant("demo").templates is None
    assert policy.auto_replies.opt_out is not None


def test_empty_file_is_a_permissive_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("# nothing yet\n")
    policy = load_policy(path, {"demo"})
    assert policy.tenants == {} and policy.tenant("demo").require_valid


def test_syntax_error(tmp_path: Path) -> None:
    assert errors_of(tmp_path, "tenants:\n  acme: {templates: [\n") == [
        "P:3:1: YAML syntax error: expected the node content, but found '<stream end>' (while parsing a flow node)"
    ]


def test_every_problem_at_its_position(tmp_path: Path) -> None:
    text = """\
tenants:
  acmee:
    templates_only: true
  acme:
    senders: {allow: [ACME], otherwise: rewrite}
    destinations: {countries_allow: [GB, XX]}
    reject_status: ESME_RINVMSGLN
    templates:
      otp: "Your code is {code:digits(4-8)"
      bad: "Code {c:number(4)} now"
    templats: {}
block_list: ["263770000000"]
auto_replies:
  opt_out: "Bye from {tennant}"
  window: -5
"""
    assert errors_of(tmp_path, text, {"demo", "acme"}) == [
        "P:2:3: unknown tenant 'acmee' (hint: did you mean 'acme'?)",
        "P:6:42: unknown country 'XX' (hint: use an ISO 3166 code like ZW or GB, or a calling code like 263)",
        "P:7:20: unknown SMPP status 'ESME_RINVMSGLN' (hint: did you mean 'ESME_RINVMSGLEN'?)",
        "P:11:5: unknown key 'templats' in tenant policy (hint: did you mean 'templates'?)",
        "P:12:14: bad block-list entry '263770000000' (hint: an E.164 number \"+263770000000\" or a range \"+26377000*\")",
        "P:14:12: unknown field {tennant} in reply text (hint: reply texts may use {tenant}, {keyword})",
        "P:15:11: -5.0 must be more than 0",
    ]


def test_template_errors_point_into_the_template(tmp_path: Path) -> None:
    text = """\
tenants:
  acme:
    senders: {allow: [ACME], otherwise: rewrite}
    templates_only: true
    templates:
      otp: "Your code is {code:digits(4-8)"
      bad: Code {c:number(4)} now
"""
    assert errors_of(tmp_path, text, {"acme"}) == [
        "P:3:41: otherwise: rewrite needs a default sender (hint: add `default: \"ACME\"`)",
        "P:6:26: template 'otp': unclosed '{' (hint: write '{{' for a literal brace)",
        "P:7:17: template 'bad': unknown placeholder kind 'number' (hint: use digits, alnum or text)",
    ]


def test_cross_field_problems(tmp_path: Path) -> None:
    # Checked once every value is well formed (the checks above come first, all together).
    text = """\
tenants:
  acme:
    senders: {allow: [ACME], default: ACME}
    templates_only: true
"""
    assert errors_of(tmp_path, text) == [
        "P:3:30: default is only used with `otherwise: rewrite` (hint: remove it, or set otherwise: rewrite)",
        "P:4:21: acme: templates_only is true but no templates are given (hint: add `templates: {name: \"text\"}`)",
    ]


def test_default_sender_must_be_usable(tmp_path: Path) -> None:
    text = 'tenants:\n  beta:\n    senders: {otherwise: rewrite, default: "THIS-IS-TOO-LONG"}\n'
    assert errors_of(tmp_path, text) == ["P:3:44: sender id 'THIS-IS-TOO-LONG' is longer than 11 characters"]


def test_tenant_names_not_checked_without_the_daemon_names(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("tenants:\n  anyone: {templates_only: false}\n")
    assert "anyone" in load_policy(path, None).tenants


def test_reload_swaps_whole_policies_and_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    from smsswitch.numbers import parse_number
    from smsswitch.policy import AutoReplier, Reply

    path = tmp_path / "policy.yaml"
    path.write_text("tenants:\n  acme: {senders: {allow: [ACME]}}\nauto_replies: {max_per_sender: 1, routes: {r: hi}}\n")
    first = load_policy(path, {"acme"})
    replier = AutoReplier(first.auto_replies)
    subscriber = parse_number("+263771234567", 1, 1, None)
    assert isinstance(replier.decide(subscriber, "60682", first.reply_template("acme", "r", None), False, 0.0), Reply)
    path.write_text("tenants:\n  acme: {senders: {allow: [OTHER]}}\nauto_replies: {max_per_sender: 2, routes: {r: hello}}\n")
    second = load_policy(path, {"acme"})
    replier.update(second.auto_replies)
    # The old policy object is untouched (in-flight checks finish with it); counters carry over.
    assert first.tenant("acme").senders.allows(parse_number("ACME", 5, 0, None))
    assert not second.tenant("acme").senders.allows(parse_number("ACME", 5, 0, None))
    outcome = replier.decide(subscriber, "60682", second.reply_template("acme", "r", None), False, 1.0)
    assert isinstance(outcome, Reply) and outcome.text == "hello"
    assert replier.stats()["sent"] == 2
    path.write_text("tenants:\n  acme: {senders: [OTHER]}\n")
    with pytest.raises(ConfigErrors):
        load_policy(path, {"acme"})
