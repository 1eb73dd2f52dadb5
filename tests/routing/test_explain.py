"""explain: the matching rule, candidates in order, why each earlier rule did not match —
and always the same decision as the indexed lookup."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from smsswitch.numbers import parse_number
from smsswitch.routing import compile_routes

from .conftest import WEDNESDAY_NOON_HARARE as NOW
from .conftest import number


def test_mt_explanation_text(table) -> None:  # noqa: ANN001
    text = table.explain_mt("demo", number("+447400123456"), "X", 0, NOW).render()
    full = str(table.source)
    assert text.splitlines() == [
        "MT tenant=demo to=+447400123456 (GB, mobile, Three) from=X data_coding=0 at=2024-05-15T10:00+00:00",
        f"  no    block-99 ({full}:20:5): destination +447400123456 does not start with +99",
        f"  no    acme-otp ({full}:24:5): tenant 'demo' is not one of acme; destination country GB (+44) is not one of ZW; "
        "sender 'X' does not match ACME*",
        f"  no    ported ({full}:34:5): destination network Three is not one of ported",
        f"  no    netone ({full}:38:5): destination network Three is not one of zw-netone",
        f"  no    retail-econet ({full}:42:5): destination network Three is not one of Econet",
        f"  no    night-owl ({full}:46:5): tenant 'demo' is not one of beta; "
        "time 2024-05-15T10:00+00:00 is outside fri 22:00-06:00 Europe/London",
        f"  no    uk-split ({full}:50:5): destination +447400123456 does not start with +4477, +4478",
        f"  MATCH uk-lcr ({full}:54:5)",
        "  prices for +447400123456: sim=0.03, backup=0.035, cheap=0.01",
        "=> rule uk-lcr: least_cost via cheap -> sim -> backup (failover in this order)",
    ]


def test_mt_explanation_structure(table) -> None:  # noqa: ANN001
    explanation = table.explain_mt("acme", number("+263712345678"), "OTHER", 3, NOW)
    data = json.loads(json.dumps(explanation.as_dict()))
    assert data["decision"] == {"rule": "netone", "action": "connectors", "connectors": ["backup", "sim"], "status": "ESME_ROK", "reason": ""}
    assert [r["rule"] for r in data["rules"]] == ["block-99", "acme-otp", "ported", "netone"]
    assert data["rules"][1]["reasons"] == [
        "sender 'OTHER' does not match ACME*",
        "data_coding 3 is not one of 0, 8",
    ]
    assert data["rules"][-1] == {"rule": "netone", "where": f"{explanation.verdicts[-1].where}", "matched": True, "reasons": []}


def test_explain_reject_and_split(table) -> None:  # noqa: ANN001
    assert table.explain_mt("demo", number("+263242700000"), "X", 0, NOW).render().endswith(
        "=> rule zw-landline: reject with ESME_RPROHIBITED (0x00000101): landlines do not take SMS"
    )
    text = table.explain_mt("demo", number("+447700900123"), "X", 0, NOW, draw=0.8).render()
    assert "  split sim=70, backup=30; draw 0.800 picks backup" in text
    assert text.endswith("=> rule uk-split: split via backup -> sim (failover in this order)")
    no_route = table.explain_mt("demo", number("+12025550123"), "X", 0, NOW).render()
    assert no_route.endswith("=> no rule matched: reject with ESME_RINVDSTADR (0x0000000B): no route for this destination")
    assert no_route.count("\n  no    ") == 10


def test_mo_explanation(table) -> None:  # noqa: ANN001
    text = table.explain_mo("60682", "Stop it", number("+263771234567"), "sim").render()
    lines = text.splitlines()
    assert lines[0] == "MO to=60682 keyword='stop' from=+263771234567 (ZW, mobile, Econet) connector=sim"
    assert lines[1].endswith("keyword 'stop' is not one of 60682, join")
    assert lines[-2].startswith("  MATCH demo-shortcode")
    assert lines[-1] == "=> rule demo-shortcode: deliver to tenant demo via the tenant's default channels; opt-out keyword 'stop' for this tenant"
    keyword = table.explain_mo("60682", "60682 hello", number("+263771234567"), "sim").render()
    assert keyword.splitlines()[1:] == [
        f"  MATCH demo-keyword ({table.source}:67:5)",
        "=> rule demo-keyword: deliver to tenant demo via smpp, webhook",
    ]
    dead = table.explain_mo("999", "hi", number("+263771234567"), "sim").render()
    assert dead.endswith("=> no rule matched: dead letter (no MO route matches)")


TENANTS = st.sampled_from(["demo", "acme", "beta", "other"])
NUMBERS = st.sampled_from(
    [
        ("+263771234567", 1, None), ("+263712345678", 1, None), ("+263779912345", 1, None), ("+263242700000", 1, None),
        ("0771234567", 2, "ZW"), ("+447400123456", 1, None), ("+447700900123", 1, None), ("07800123456", 0, "GB"),
        ("+12025550123", 1, None), ("+99123456", 1, None), ("60682", 0, None), ("ACME", 5, None),
    ]
)
SENDERS = st.sampled_from(["ACME", "acme-otp", "X", "", "+263771000000"])
TIMES = st.integers(min_value=0, max_value=7 * 24 * 4 - 1).map(lambda q: NOW + timedelta(minutes=15 * q))


@settings(max_examples=300, deadline=None)
@given(TENANTS, NUMBERS, SENDERS, st.sampled_from([0, 3, 8]), TIMES, st.floats(min_value=0, max_value=0.999))
def test_explain_and_lookup_always_agree(table, tenant, num, source, dc, now, draw) -> None:  # noqa: ANN001
    dest = parse_number(num[0], num[1], 1, num[2], table.networks)
    explanation = table.explain_mt(tenant, dest, source, dc, now, draw)
    assert table.route_mt(tenant, dest, source, dc, now, draw) == explanation.decision
    matched = [v.rule for v in explanation.verdicts if v.matched]
    assert matched == ([explanation.decision.rule] if explanation.decision.rule else [])


def _generated_table(seed: int):  # noqa: ANN202
    import random

    rng = random.Random(seed)
    rules = []
    for i in range(400):
        kind = rng.random()
        match: dict = {}
        if kind < 0.6:
            match["prefixes"] = [f"+{rng.choice(['263', '44', '1'])}{rng.randint(0, 99)}"]
        elif kind < 0.75:
            match["countries"] = [rng.choice(["ZW", "GB", 263, 44, "US"])]
        elif kind < 0.9:
            match["tenants"] = [rng.choice(["demo", "acme"])]
        if rng.random() < 0.3:
            match["tenants"] = [rng.choice(["demo", "acme"])]
        if rng.random() < 0.2:
            match["data_coding"] = [rng.choice([0, 8])]
        rules.append({"name": f"r{i}", "match": match, "connectors": [f"c{i}"]} if match else {"name": f"r{i}", "connectors": ["last"]})
    return compile_routes({"version": 1, "mt": rules})


def test_index_agrees_with_linear_scan_on_generated_tables() -> None:
    numbers = [parse_number(raw, 1) for raw in ("+263771234567", "+263712345678", "+447400123456", "+12025550123", "+4470")]
    for seed in range(5):
        table = _generated_table(seed)
        for dest in numbers:
            for tenant in ("demo", "acme", "zed"):
                for dc in (0, 8):
                    expected = table.explain_mt(tenant, dest, "", dc, NOW).decision
                    assert table.route_mt(tenant, dest, "", dc, NOW) == expected


def test_explain_defaults_to_now(table) -> None:  # noqa: ANN001
    assert table.explain_mt("demo", number("+263771234567")).decision.rule == "retail-econet"
