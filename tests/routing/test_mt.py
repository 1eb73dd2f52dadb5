"""MT routing: every match kind and action, failover order, splits, least cost, rejections."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from smsswitch.numbers import parse_number
from smsswitch.routing import MtDecision, compile_routes
from smsswitch.routing.actions import LeastCostAction, PriceList, SplitAction
from smsswitch.routing.match import SenderPattern
from smsswitch.smpp.constants import CommandStatus
from smsswitch.yamlconf import load_yaml_text

from .conftest import WEDNESDAY_NOON_HARARE as NOW
from .conftest import number

ZW_ECONET = "+263771234567"
ZW_NETONE = "+263712345678"
ZW_PORTED = "+263779912345"  # Econet range, moved by the operator map to "ported"
ZW_LANDLINE = "+263242700000"
GB_MOBILE = "+447400123456"  # Three
GB_DRAMA = "+447700900123"  # +4477 split range (Ofcom fiction range: possible, not valid)
US_NUMBER = "+12025550123"


def route(table, tenant, raw, source="ACME", dc=0, now=NOW, draw=0.0, ton=1, region=None):  # noqa: ANN001, ANN201
    return table.route_mt(tenant, number(raw, ton, region), source, dc, now, draw)


def test_all_conditions_of_a_rule(table) -> None:  # noqa: ANN001
    assert route(table, "acme", ZW_ECONET) == MtDecision("acme-otp", "connectors", ("sim", "backup"))


@pytest.mark.parametrize(
    ("change", "expected_rule"),
    [
        ({"tenant": "demo"}, "retail-econet"),  # tenant
        ({"source": "OTHER"}, "zw-rest"),  # sender glob
        ({"dc": 3}, "zw-rest"),  # data_coding
        ({"now": NOW + timedelta(hours=9)}, "zw-rest"),  # 21:00 in Harare
        ({"now": NOW + timedelta(days=3)}, "zw-rest"),  # Saturday
        ({"raw": GB_MOBILE}, "uk-lcr"),  # country
        ({"raw": ZW_LANDLINE}, "zw-landline"),  # number type
    ],
)
def test_each_condition_of_acme_otp_is_needed(table, change, expected_rule) -> None:  # noqa: ANN001
    args = {"tenant": "acme", "raw": ZW_ECONET, "source": "ACME", "dc": 0, "now": NOW} | change
    assert route(table, **args).rule == expected_rule


def test_sender_glob_is_case_insensitive_prefix(table) -> None:  # noqa: ANN001
    assert route(table, "acme", ZW_ECONET, source="acme-otp").rule == "acme-otp"
    assert route(table, "acme", ZW_ECONET, source="XACME").rule == "zw-rest"


def test_sender_pattern_kinds() -> None:
    pattern = SenderPattern.compile(["INFO", "ACME*", "A?C[0-9]*"])
    assert (pattern.exact, pattern.prefixes, len(pattern.regexes)) == (frozenset({"INFO"}), ("ACME",), 1)
    assert [pattern.matches(s) for s in ("info", "INFOX", "AcmeBank", "ABC7x", "ABCx")] == [True, False, True, True, False]


def test_network_from_operator_map_and_from_phonenumbers(table) -> None:  # noqa: ANN001
    assert route(table, "demo", ZW_PORTED).connectors == ("cheap",)  # operator map wins over Econet
    assert route(table, "demo", ZW_NETONE) == MtDecision("netone", "connectors", ("backup", "sim"))
    assert route(table, "demo", ZW_ECONET).rule == "retail-econet"  # phonenumbers' carrier name
    # Even when the caller parsed without the operator map, the table applies it.
    plain = parse_number(ZW_PORTED, 1, 1)
    assert plain.network == "Econet"
    assert table.route_mt("demo", plain, "X", 0, NOW, 0.0).rule == "ported"


def test_tenant_group(table) -> None:  # noqa: ANN001
    assert route(table, "beta", ZW_ECONET).rule == "retail-econet"
    assert route(table, "acme", ZW_ECONET, source="OTHER").rule == "zw-rest"


def test_country_by_calling_code_and_by_region(table) -> None:  # noqa: ANN001
    assert route(table, "demo", GB_MOBILE).rule == "uk-lcr"  # countries: [44]
    assert route(table, "demo", "+263772000000", source="X").rule == "retail-econet"
    assert route(table, "acme", ZW_ECONET, source="X").rule == "zw-rest"  # countries: ["263"]


def test_national_format_examples(table) -> None:  # noqa: ANN001
    assert route(table, "acme", "0771234567", ton=2, region="ZW").rule == "acme-otp"
    assert route(table, "demo", "07400123456", ton=0, region="GB").rule == "uk-lcr"
    assert route(table, "demo", "07700900123", ton=2, region="GB").rule == "uk-split"


def test_time_window_crossing_midnight_belongs_to_its_start_day(table) -> None:  # noqa: ANN001
    london = timezone(timedelta(hours=1))  # BST in May
    friday_late = datetime(2024, 5, 17, 22, 30, tzinfo=london)
    saturday_early = datetime(2024, 5, 18, 5, 0, tzinfo=london)
    saturday_late = datetime(2024, 5, 18, 22, 30, tzinfo=london)
    thursday_late = datetime(2024, 5, 16, 23, 0, tzinfo=london)
    assert route(table, "beta", GB_MOBILE, now=friday_late).rule == "night-owl"
    assert route(table, "beta", GB_MOBILE, now=saturday_early).rule == "night-owl"
    assert route(table, "beta", GB_MOBILE, now=saturday_late).rule == "uk-lcr"
    assert route(table, "beta", GB_MOBILE, now=thursday_late).rule == "uk-lcr"


def test_reject_with_configured_status(table) -> None:  # noqa: ANN001
    decision = route(table, "demo", ZW_LANDLINE)
    assert (decision.action, decision.status, decision.reason, decision.routed) == (
        "reject", CommandStatus.ESME_RPROHIBITED, "landlines do not take SMS", False,
    )
    blocked = route(table, "demo", "+99123456")  # no country has +99; the prefix rule still applies
    assert (blocked.rule, blocked.status, blocked.reason) == ("block-99", CommandStatus.ESME_RINVDSTADR, "no route to +99")


def test_no_match_is_a_clear_rejection(table) -> None:  # noqa: ANN001
    decision = route(table, "demo", US_NUMBER)
    assert decision == MtDecision(None, "no_route", (), CommandStatus.ESME_RINVDSTADR, "no route for this destination")
    for raw, ton in (("ACME", 5), ("60682", 0)):  # not phone numbers: no prefix or country matches
        assert table.route_mt("demo", parse_number(raw, ton, 0), "X", 0, NOW, 0.0).action == "no_route"


def test_no_match_default_status_without_no_route_section() -> None:
    doc = load_yaml_text("version: 1\nmt:\n  - {name: zw, match: {countries: [ZW]}, connectors: [sim]}\n", "r.yaml")
    decision = compile_routes(doc).route_mt("t", number(US_NUMBER), "", 0, NOW, 0.0)
    assert (decision.status, decision.reason) == (CommandStatus.ESME_RINVDSTADR, "no route matches")


def test_default_route_catches_the_rest() -> None:
    doc = load_yaml_text(
        "version: 1\nmt:\n  - {name: zw, match: {countries: [ZW]}, connectors: [sim]}\n  - {name: default, connectors: [backup]}\n"
    )
    table = compile_routes(doc)
    assert table.route_mt("t", number(US_NUMBER), "", 0, NOW, 0.0) == MtDecision("default", "connectors", ("backup",))
    assert table.route_mt("t", number(ZW_ECONET), "", 0, NOW, 0.0).rule == "zw"


def test_failover_order_is_the_written_order(table) -> None:  # noqa: ANN001
    # The core tries connectors[0], and the next one when it is down or rejects.
    assert route(table, "acme", ZW_ECONET).connectors == ("sim", "backup")
    assert route(table, "demo", ZW_NETONE).connectors == ("backup", "sim")


def test_weighted_split_is_deterministic_in_the_draw(table) -> None:  # noqa: ANN001
    assert route(table, "demo", GB_DRAMA, draw=0.0).connectors == ("sim", "backup")
    assert route(table, "demo", GB_DRAMA, draw=0.6999).connectors == ("sim", "backup")
    assert route(table, "demo", GB_DRAMA, draw=0.7).connectors == ("backup", "sim")
    assert route(table, "demo", GB_DRAMA, draw=0.9999).connectors == ("backup", "sim")
    first = [route(table, "demo", GB_DRAMA, draw=i / 1000).connectors[0] for i in range(1000)]
    assert (first.count("sim"), first.count("backup")) == (700, 300)


def test_split_with_three_connectors_and_odd_weights() -> None:
    split = SplitAction.build("r", {"a": 1, "b": 2, "c": 1})
    picks = [split.decide(number(ZW_ECONET), i / 400).connectors for i in range(400)]
    assert [p[0] for p in picks].count("b") == 200
    assert picks[0] == ("a", "b", "c") and picks[399] == ("c", "b", "a")


def test_least_cost_orders_by_longest_prefix_price(table) -> None:  # noqa: ANN001
    assert route(table, "demo", GB_MOBILE).connectors == ("cheap", "sim", "backup")
    prices = (PriceList.from_mapping({"+263": 0.02, "+26377": 0.010}), PriceList.from_mapping({"+263": 0.015}), None)
    action = LeastCostAction("lcr", ("sim", "backup", "noprice"), prices)
    assert action.decide(number(ZW_ECONET), 0.0).connectors == ("sim", "backup", "noprice")  # +26377 price
    assert action.decide(number(ZW_NETONE), 0.0).connectors == ("backup", "sim", "noprice")  # +263 price
    assert action.decide(number(US_NUMBER), 0.0).connectors == ("sim", "backup", "noprice")  # none: as written


def test_number_type_mobile_includes_fixed_line_or_mobile() -> None:
    doc = load_yaml_text("version: 1\nmt:\n  - {name: mobiles, match: {number_type: mobile}, connectors: [sim]}\n")
    table = compile_routes(doc)
    assert table.route_mt("t", number(US_NUMBER), "", 0, NOW, 0.0).rule == "mobiles"  # US: fixed_line_or_mobile
    assert table.route_mt("t", number(ZW_LANDLINE), "", 0, NOW, 0.0).rule is None


def test_rule_order_holds_across_index_kinds() -> None:
    # A tenant-only rule (indexed by tenant) written before a prefix rule must win over it.
    doc = load_yaml_text(
        """\
version: 1
mt:
  - {name: acme-all, match: {tenants: [acme]}, connectors: [backup]}
  - {name: zw-prefix, match: {prefixes: ["+26377"]}, connectors: [sim]}
  - {name: zw-region, match: {countries: [ZW]}, connectors: [cheap]}
  - {name: catch-all, connectors: [last]}
"""
    )
    table = compile_routes(doc)
    assert table.route_mt("acme", number(ZW_ECONET), "", 0, NOW, 0.0).rule == "acme-all"
    assert table.route_mt("demo", number(ZW_ECONET), "", 0, NOW, 0.0).rule == "zw-prefix"
    assert table.route_mt("demo", number(ZW_NETONE), "", 0, NOW, 0.0).rule == "zw-region"
    assert table.route_mt("demo", number(US_NUMBER), "", 0, NOW, 0.0).rule == "catch-all"


def test_longer_prefix_written_later_still_matches_when_the_shorter_does_not_apply() -> None:
    doc = load_yaml_text(
        """\
version: 1
mt:
  - {name: zw-acme, match: {prefixes: ["+263"], tenants: [acme]}, connectors: [a]}
  - {name: econet, match: {prefixes: ["+26377"]}, connectors: [b]}
"""
    )
    table = compile_routes(doc)
    assert table.route_mt("acme", number(ZW_ECONET), "", 0, NOW, 0.0).rule == "zw-acme"
    assert table.route_mt("demo", number(ZW_ECONET), "", 0, NOW, 0.0).rule == "econet"
    assert table.route_mt("demo", number(ZW_NETONE), "", 0, NOW, 0.0).rule is None
