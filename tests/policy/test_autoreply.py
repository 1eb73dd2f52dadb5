"""Auto-replies: who gets one, loop protection (two auto-responders answering each other),
bounded counters, and every suppression counted and logged with its reason."""

from __future__ import annotations

import attrs
import structlog

from smsswitch.numbers import parse_number
from smsswitch.policy import AutoReplier, AutoReplySettings, BlockList, Reply, ReplyTemplate, Suppressed
from smsswitch.smpp.text import decode_text

from .conftest import load

THANKS = ReplyTemplate("demo-keyword", "Thanks! {tenant} got your {keyword}.")
A = "+263771111111"
B = "+263772222222"


def sender(raw: str):  # noqa: ANN201
    return parse_number(raw, 0 if raw.lstrip("+").isdigit() else 5, 1, "ZW")


def replier(**kwargs: object) -> AutoReplier:
    return AutoReplier(AutoReplySettings.build([THANKS], **kwargs))


def test_reply_goes_back_from_the_address_written_to() -> None:
    outcome = replier().decide(sender(A), "60682", THANKS, False, 0.0, tenant="demo", keyword="join")
    assert isinstance(outcome, Reply)
    assert outcome.text == "Thanks! demo got your join."
    assert (outcome.tenant, outcome.template) == ("demo", "demo-keyword")
    assert outcome.destination.e164 == A
    assert (outcome.source.source.raw, outcome.source.ton, outcome.source.npi) == ("60682", 3, 0)
    assert decode_text(outcome.encoded()[1], outcome.encoded()[0]) == outcome.text


def test_ucs2_reply_when_gsm_cannot_hold_it() -> None:
    template = ReplyTemplate("x", "Merci {tenant} ✓")
    outcome = replier().decide(sender(A), "60682", template, False, 0.0, tenant="démo")
    assert isinstance(outcome, Reply) and outcome.encoded()[0] == 8


def test_no_template_no_reply() -> None:
    r = replier()
    assert r.decide(sender(A), "60682", None, False, 0.0) == Suppressed("not_configured")


def test_never_to_short_codes_alphanumerics_or_invalid_numbers() -> None:
    r = replier()
    assert r.decide(sender("60683"), "60682", THANKS, False, 0.0) == Suppressed("shortcode_sender")
    assert r.decide(sender("BANK"), "60682", THANKS, False, 0.0) == Suppressed("alphanumeric_sender")
    assert r.decide(sender("+2637712345678901"), "60682", THANKS, False, 0.0) == Suppressed("invalid_sender")


def test_never_in_answer_to_an_auto_reply() -> None:
    r = replier()
    assert r.decide(sender(A), "60682", THANKS, True, 0.0) == Suppressed("auto_reply_in")
    # Our own reply text coming back (an echoing handset, a carrier loop) is recognised too.
    echoed = "Thanks!  acme got your   stop."
    assert r.looks_like_auto_reply(echoed)
    assert r.decide(sender(A), "60682", THANKS, False, 0.0, mo_text=echoed) == Suppressed("auto_reply_in")
    assert isinstance(r.decide(sender(A), "60682", THANKS, False, 0.0, mo_text="JOIN please"), Reply)


def test_never_to_our_own_addresses() -> None:
    r = replier(own_addresses=frozenset({"263779000000"}))
    assert r.decide(sender("+263779000000"), "60682", THANKS, False, 0.0) == Suppressed("own_address")


def test_never_to_the_block_list() -> None:
    r = replier(block_list=BlockList.from_entries([A]))
    assert r.decide(sender(A), "60682", THANKS, False, 0.0) == Suppressed("blocked")


def test_at_most_n_per_sender_in_the_window_then_again_after_it() -> None:
    r = replier(max_per_sender=3, window=100.0)
    outcomes = [r.decide(sender(A), "60682", THANKS, False, float(t)) for t in range(5)]
    assert [type(o).__name__ for o in outcomes] == ["Reply", "Reply", "Reply", "Suppressed", "Suppressed"]
    assert outcomes[3] == Suppressed("rate_limited")
    assert isinstance(r.decide(sender(B), "60682", THANKS, False, 5.0), Reply)  # per sender
    assert r.decide(sender(A), "60682", THANKS, False, 99.0) == Suppressed("rate_limited")
    assert isinstance(r.decide(sender(A), "60682", THANKS, False, 100.5), Reply)  # the first slid out


def test_loop_between_two_auto_replying_routes_stops_after_n() -> None:
    """Two of our MO routes answer automatically, each on its own long number, and a
    carrier delivers each reply as an MO to the other (a misrouted loop). Neither number is
    configured as ours and the reply texts are not recognisable, but having answered from
    A's number once, the replier knows it as ours: the reply coming back from it ends the
    loop after one turn."""
    r = replier(max_per_sender=3, window=3600.0)
    route_a = ReplyTemplate("route-a", "A got it ({keyword})")
    route_b = ReplyTemplate("route-b", "B got it ({keyword})")
    routes = {A: route_a, B: route_b}
    # The first MO: B writes to A's number.
    mo_from, mo_to, turns, replies = B, A, 0, []
    for turns in range(1, 100):  # bounded: a broken limit fails the test instead of hanging
        outcome = r.decide(sender(mo_from), mo_to, routes[mo_to], False, float(turns))
        if isinstance(outcome, Suppressed):
            break
        replies.append(outcome)
        # The reply, sent from mo_to to mo_from, comes back as an MO from mo_to to mo_from.
        mo_from, mo_to = outcome.source.source.e164, outcome.destination.e164
    assert outcome == Suppressed("own_address")  # A's number answered from once: known ours
    assert len(replies) == 1


def test_loop_with_an_outside_auto_responder_stops_after_n() -> None:
    """A subscriber's phone answers every message automatically ("I'm driving"), and our
    keyword route answers every message: the loop ends after N of our replies."""
    n = 3
    r = replier(max_per_sender=n, window=3600.0)
    sent = 0
    for turn in range(100):
        outcome = r.decide(sender(A), "60682", THANKS, False, float(turn), mo_text="I'm driving, will reply later")
        if isinstance(outcome, Suppressed):
            assert outcome.reason == "rate_limited"
            break
        sent += 1
    assert sent == n
    assert r.stats() == {"sent": n, "tracked_senders": 1, "suppressed": {"rate_limited": 1}}


def test_loop_between_two_of_our_numbers_without_own_address_detection() -> None:
    """Worst case: both loop ends look like subscribers to each other (different nodes, so
    no learned addresses) - the per-sender limit still stops each direction after N."""
    n = 2
    node_a, node_b = replier(max_per_sender=n), replier(max_per_sender=n)
    mo_from, mo_to, node, other = B, A, node_a, node_b
    replies = 0
    for turn in range(100):
        outcome = node.decide(sender(mo_from), mo_to, THANKS, False, float(turn))
        if isinstance(outcome, Suppressed):
            break
        replies += 1
        mo_from, mo_to, node, other = mo_to, mo_from, other, node
    assert outcome == Suppressed("rate_limited")
    assert replies == 2 * n


def test_counters_are_bounded_and_fail_closed_when_full() -> None:
    r = replier(max_per_sender=1, window=100.0, max_tracked_senders=50)
    numbers = [f"+26377{i:07d}" for i in range(1, 200)]
    for i, number in enumerate(numbers[:50]):
        assert isinstance(r.decide(sender(number), "60682", THANKS, False, float(i)), Reply)
    assert len(r) == 50
    # Full of senders still inside their window: no reply rather than a forgotten limit.
    assert r.decide(sender(numbers[60]), "60682", THANKS, False, 60.0) == Suppressed("tracker_full")
    assert len(r) == 50
    # Once the oldest windows pass, their entries make room.
    for i, number in enumerate(numbers[100:200]):
        r.decide(sender(number), "60682", THANKS, False, 200.0 + i)
        assert len(r) <= 50
    assert r.stats()["tracked_senders"] == 50


def test_update_keeps_counters_and_trims_to_the_new_bound() -> None:
    r = replier(max_per_sender=1, window=100.0)
    r.decide(sender(A), "60682", THANKS, False, 0.0)
    r.decide(sender(B), "60682", THANKS, False, 1.0)
    r.update(attrs.evolve(r.settings, max_tracked_senders=1))
    assert len(r) == 1
    assert r.decide(sender(B), "60682", THANKS, False, 2.0) == Suppressed("rate_limited")


def test_suppressions_are_counted_and_logged_with_their_reason() -> None:
    r = replier(max_per_sender=1)
    with structlog.testing.capture_logs() as logs:
        r.decide(sender(A), "60682", THANKS, False, 0.0)
        for t in range(1, 4):
            r.decide(sender(A), "60682", THANKS, False, float(t))
        r.decide(sender("BANK"), "60682", THANKS, False, 5.0)
    assert r.stats()["suppressed"] == {"rate_limited": 3, "alphanumeric_sender": 1}
    events = [(e["log_level"], e["reason"], e["sender"]) for e in logs if e["event"] == "autoreply.suppressed"]
    # One INFO line per sender per window for rate limiting, the repeats at DEBUG. The number
    # is logged under `sender`, a key smsswitch.logs masks.
    assert events == [
        ("info", "rate_limited", A),
        ("debug", "rate_limited", A),
        ("debug", "rate_limited", A),
        ("info", "alphanumeric_sender", "BANK"),
    ]


def test_policy_chooses_the_reply() -> None:
    policy = load()
    assert policy.reply_template("demo", "demo-keyword", None).name == "demo-keyword"
    assert policy.reply_template("demo", "other-route", None) is None
    assert policy.reply_template("demo", "demo-shortcode", "out").render("demo", "stop") == (
        "You will get no more messages from demo. Reply START to resume."
    )
    assert policy.reply_template("demo", None, "in") is None  # no opt_in text configured
    own = load(
        "tenants:\n  acme:\n    replies: {opt_in: 'Welcome back to {tenant}.'}\n"
        "auto_replies: {opt_in: 'Generic {tenant}'}\n"
    )
    assert own.reply_template("acme", None, "in").text == "Welcome back to {tenant}."
    assert own.reply_template("demo", None, "in").text == "Generic {tenant}"
    assert own.auto_replies.recogniser is not None and own.auto_replies.recogniser.fullmatch("Welcome back to acme.")
