"""MO routing: recipient, keyword (case/accent-insensitive), sender, connector; opt-out/in."""

from __future__ import annotations

import pytest

from smsswitch.numbers import parse_number
from smsswitch.routing import MoDecision, compile_routes, first_keyword, normalize_keyword
from smsswitch.yamlconf import load_yaml_text

from .conftest import number

ZW_SENDER = number("+263771234567")
GB_SENDER = number("+447400123456")


@pytest.mark.parametrize("text", ["60682 hello", "60682", "join", "JOIN me", "Join!", "  jóin  now", "ｊｏｉｎ"])
def test_keyword_route_to_short_code(table, text) -> None:  # noqa: ANN001
    decision = table.route_mo("60682", text, ZW_SENDER, "sim")
    assert (decision.rule, decision.tenant, decision.via, decision.opt) == ("demo-keyword", "demo", ("smpp", "webhook"), None)


def test_other_text_to_the_short_code_goes_to_its_catch_all(table) -> None:  # noqa: ANN001
    assert table.route_mo("60682", "hello there", ZW_SENDER, "sim") == MoDecision(
        rule="demo-shortcode", action="deliver", tenant="demo", via=None, keyword="hello"
    )


@pytest.mark.parametrize("text", ["café au lait", "CAFE", "Café.", "cafe"])
def test_accented_keyword_in_config(table, text) -> None:  # noqa: ANN001
    decision = table.route_mo("12345", text, ZW_SENDER, "sim")
    assert (decision.rule, decision.tenant, decision.via) == ("acme-café", "acme", ("webhook",))


def test_keyword_normalisation() -> None:
    assert [normalize_keyword(w) for w in ("STÓP!", "ｓｔｏｐ", "Arrêt", "¿ALTO?")] == ["stop", "stop", "arret", "alto"]
    assert first_keyword("") == first_keyword("   ") == ""


def test_recipient_number_forms_agree(table) -> None:  # noqa: ANN001
    for to in ("+263771000000", "263771000000", "00263771000000"):
        assert table.route_mo(to, "hi", ZW_SENDER, "sim").rule == "acme-longcode"


def test_connector_condition(table) -> None:  # noqa: ANN001
    decision = table.route_mo("+263771000000", "hi", ZW_SENDER, "backup")
    assert (decision.action, decision.rule) == ("dead_letter", None)


def test_sender_prefix_drop(table) -> None:  # noqa: ANN001
    decision = table.route_mo("60682", "60682 win", number("+99123456"), "sim")
    # demo-keyword comes first and matches; the spam rule only catches what is left.
    assert decision.rule == "demo-keyword"
    dropped = table.route_mo("777", "win", number("+99123456"), "sim")
    assert (dropped.action, dropped.reason, dropped.delivered) == ("drop", "known spam source", False)


def test_sender_country_and_recipient_prefix(table) -> None:  # noqa: ANN001
    assert table.route_mo("+447700900000", "hi", GB_SENDER, "sim").tenant == "beta"
    assert table.route_mo("+447700900000", "hi", ZW_SENDER, "sim").action == "dead_letter"


def test_unmatched_goes_to_dead_letters_or_the_configured_default(table) -> None:  # noqa: ANN001
    assert table.route_mo("999", "hi", ZW_SENDER, "sim") == MoDecision(
        rule=None, action="dead_letter", reason="no MO route matches", keyword="hi"
    )
    doc = load_yaml_text("version: 1\nmo_default: {tenant: demo, via: webhook}\n")
    decision = compile_routes(doc).route_mo("999", "hi", ZW_SENDER, "sim")
    assert (decision.action, decision.tenant, decision.via, decision.rule) == ("deliver", "demo", ("webhook",), None)


@pytest.mark.parametrize(
    ("text", "opt"),
    [
        ("STOP", "out"), ("stop please", "out"), ("Unsubscribe", "out"), ("END", "out"), ("cancel", "out"),
        ("QUIT", "out"), ("STOPALL", "out"), ("arrêt", "out"), ("ARRET", "out"), ("Alto", "out"),
        ("START", "in"), ("unstop", "in"), ("Commencer", "in"),
        ("stopped", None), ("hello", None),
    ],
)
def test_opt_keywords_concern_the_tenant_of_the_number(table, text, opt) -> None:  # noqa: ANN001
    decision = table.route_mo("60682", text, ZW_SENDER, "sim")
    assert (decision.tenant, decision.opt) == ("demo", opt)
    assert table.route_mo("+263771000000", text, ZW_SENDER, "sim").tenant == "acme"


def test_opt_keyword_ignores_keyword_conditions_only_when_nothing_else_matches() -> None:
    doc = load_yaml_text(
        """\
version: 1
mo:
  - {name: join, match: {to: ["60682"], keyword: JOIN}, deliver: {tenant: acme}}
  - {name: by-keyword, match: {keyword: PROMO}, deliver: {tenant: demo}}
"""
    )
    table = compile_routes(doc)
    # No rule takes STOP to 60682 as written; ignoring keywords, "join" does: acme's subscriber.
    decision = table.route_mo("60682", "STOP", ZW_SENDER, "sim")
    assert (decision.rule, decision.tenant, decision.opt) == ("join", "acme", "out")
    # Plain text to 60682 is still not acme's.
    assert table.route_mo("60682", "hello", ZW_SENDER, "sim").action == "dead_letter"


def test_standard_opt_words_can_be_dropped() -> None:
    doc = load_yaml_text("version: 1\nopt_out: {standard: false, stop: [MISA], start: [TANGA]}\n")
    table = compile_routes(doc)
    assert (table.opt_out_keywords, table.opt_in_keywords) == (frozenset({"misa"}), frozenset({"tanga"}))


def test_alphanumeric_sender_is_fine() -> None:
    doc = load_yaml_text("version: 1\nmo:\n  - {name: uk, match: {from_countries: [GB]}, deliver: {tenant: beta}}\n")
    decision = compile_routes(doc).route_mo("60682", "hi", parse_number("NEWS", 5, 0), "sim")
    assert decision.action == "dead_letter"


def test_keywords_decide_only_where_a_keyword_rule_could_take_the_mo(table) -> None:  # noqa: ANN001
    """The later parts of a long MO wait for their first part only where this is True."""
    assert table.mo_keyword_decides("60682", ZW_SENDER, "sim")  # demo-keyword serves it
    assert table.mo_keyword_decides("99999", ZW_SENDER, "sim")  # acme-café takes CAFÉ to any number
    doc = load_yaml_text(
        """\
version: 1
mo:
  - {name: join, match: {to: ["60682"], keyword: JOIN, connectors: [sim]}, deliver: {tenant: acme}}
  - {name: line, match: {to: ["+263771000000"]}, deliver: {tenant: demo}}
"""
    )
    narrow = compile_routes(doc)
    assert narrow.mo_keyword_decides("+60682", ZW_SENDER, "sim")
    assert not narrow.mo_keyword_decides("60682", ZW_SENDER, "other")  # not over this connector
    assert not narrow.mo_keyword_decides("+263771000000", ZW_SENDER, "sim")
