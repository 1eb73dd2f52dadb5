"""check_mt: every refusal with its SMPP status, rewrites, consent, and what passes."""

from __future__ import annotations

import pytest

from smsswitch.policy import OK, REJECT, REWRITE, InMemorySuppression
from smsswitch.smpp.constants import CommandStatus as S

from .conftest import OTP, UK_MOBILE, ZW_MOBILE, load, mt, part

POLICY = load()


def check(tenant: str, request, suppressed=None):  # noqa: ANN001, ANN201
    return POLICY.check_mt(tenant, request, None, suppressed)


# ---------------------------------------------------------------- senders


@pytest.mark.parametrize("sender", ["ACME", "acme", "ACME-UK", "AcmeBank", "+447700900123"])
def test_allowed_senders(sender: str) -> None:
    verdict = check("acme", mt(sender, UK_MOBILE, OTP))
    assert verdict.outcome == OK, verdict


@pytest.mark.parametrize("sender", ["EVIL", "ACM", "+447711000000", "60682"])
def test_sender_not_allowed_is_rinvsrcadr(sender: str) -> None:
    verdict = check("acme", mt(sender, UK_MOBILE, OTP))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RINVSRCADR, "sender")
    assert "not allowed for acme" in verdict.reason


def test_numeric_sender_matches_in_e164_form_whatever_the_tenant_wrote() -> None:
    # 07700900123 in GB is +447700900123: allowed by "+4477009*".
    assert check("acme", mt("07700900123", UK_MOBILE, OTP)).outcome == OK


def test_sender_rewritten_to_the_default() -> None:
    verdict = check("beta", mt("SPOOF", UK_MOBILE, "hi"))
    assert verdict.outcome == REWRITE and verdict.allowed
    assert verdict.status == S.ESME_ROK and verdict.check == "sender"
    assert verdict.rewrite is not None
    assert (verdict.rewrite.source.raw, verdict.rewrite.ton, verdict.rewrite.npi) == ("BETA", 5, 0)
    assert "sent as 'BETA'" in verdict.reason


def test_rewrite_does_not_skip_the_later_checks() -> None:
    verdict = check("beta", mt("SPOOF", "+33612345678", "hi"))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RINVDSTADR, "country")


def test_rewrite_keeps_the_template_name() -> None:
    verdict = check("beta", mt("SPOOF", UK_MOBILE, "Sale: 20% off"))
    assert (verdict.outcome, verdict.template) == (REWRITE, "promo")


# ---------------------------------------------------------------- destinations


@pytest.mark.parametrize(
    ("to", "why"),
    [
        ("+2637712345678901", "wrong length for +263"),
        ("+447700900123", "range not assigned in +44 (GB)"),
        ("+99912345678", "not a phone number"),
    ],
)
def test_invalid_destination_is_rinvdstadr(to: str, why: str) -> None:
    verdict = check("demo", mt("DEMO", to))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RINVDSTADR, "destination")
    assert why in verdict.reason


def test_country_not_allowed_is_rinvdstadr() -> None:
    verdict = check("acme", mt("ACME", "+33612345678", OTP))
    assert (verdict.status, verdict.check) == (S.ESME_RINVDSTADR, "country")
    assert verdict.reason == "destination country FR is not allowed for acme (allowed: GB, ZW)"


@pytest.mark.parametrize("to", ["+33612345678", "+12025550123"])
def test_country_blocked_by_region_or_calling_code(to: str) -> None:
    verdict = check("beta", mt("BETA", to))
    assert (verdict.status, verdict.check) == (S.ESME_RINVDSTADR, "country")
    assert "is blocked for beta" in verdict.reason


def test_allowed_countries_pass() -> None:
    assert check("acme", mt("ACME", ZW_MOBILE, OTP)).template == "otp"


def test_short_code_destinations_are_left_to_routing() -> None:
    assert check("acme", mt("ACME", "60682", OTP)).outcome == OK


def test_unlisted_tenant_gets_the_defaults() -> None:
    assert check("nobody", mt("X", "+447700900123")).check == "destination"  # require_valid by default
    assert check("nobody", mt("X", UK_MOBILE)).outcome == OK


# ---------------------------------------------------------------- consent


@pytest.mark.parametrize("to", ["+263770000000", "+263779990001"])
def test_block_list_exact_and_range(to: str) -> None:
    verdict = check("demo", mt("DEMO", to))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RX_R_APPN, "block_list")
    assert verdict.reason == "recipient is on the operator block list"


def test_opted_out_recipient() -> None:
    suppressed = InMemorySuppression([("demo", ZW_MOBILE)])
    verdict = check("demo", mt("DEMO", ZW_MOBILE), suppressed)
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RX_R_APPN, "opt_out")
    assert verdict.reason == "recipient opted out of demo"
    # Opting out of demo says nothing about acme, and START undoes it.
    assert check("acme", mt("ACME", ZW_MOBILE, OTP), suppressed).outcome == OK
    suppressed.opt_in("demo", ZW_MOBILE)
    assert check("demo", mt("DEMO", ZW_MOBILE), suppressed).outcome == OK


def test_suppression_is_asked_with_the_e164_form() -> None:
    asked = []
    check("demo", mt("DEMO", "0771234567", region="ZW"), lambda t, s: asked.append((t, s)) or False)
    assert asked == [("demo", ZW_MOBILE)]


def test_consent_status_is_configurable() -> None:
    policy = load("consent_status: ESME_RINVDSTADR\nblock_list: ['+263770000000']\n")
    verdict = policy.check_mt("demo", mt("DEMO", "+263770000000"), None, None)
    assert verdict.status == S.ESME_RINVDSTADR


# ---------------------------------------------------------------- templates


def test_template_match_is_named() -> None:
    verdict = check("acme", mt("ACME", UK_MOBILE, OTP))
    assert (verdict.outcome, verdict.template) == (OK, "otp")


def test_template_mismatch_gets_the_configured_status() -> None:
    verdict = check("acme", mt("ACME", UK_MOBILE, "Your code is 12. It expires in 5 minutes."))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RINVMSGLEN, "template")
    assert verdict.reason == "text matches none of acme's 3 approved template(s)"


def test_not_templates_only_tenant_records_a_match_but_sends_anything() -> None:
    assert check("beta", mt("BETA", UK_MOBILE, "Sale: 5% off")).template == "promo"
    verdict = check("beta", mt("BETA", UK_MOBILE, "anything at all"))
    assert (verdict.outcome, verdict.template) == (OK, None)


def test_binary_message_cannot_match_a_template() -> None:
    request = mt("ACME", UK_MOBILE, OTP)
    request.data_coding = 4  # 8-bit binary
    verdict = check("acme", request)
    assert (verdict.status, verdict.check) == (S.ESME_RINVMSGLEN, "template")
    assert "binary message (data_coding 0x04)" in verdict.reason


def test_text_given_by_the_caller_is_used() -> None:
    request = mt("ACME", UK_MOBILE, "garbage")
    assert POLICY.check_mt("acme", request, OTP, None).template == "otp"


def test_concatenated_parts_are_refused_for_templates_only_tenants() -> None:
    verdict = check("acme", part("ACME", UK_MOBILE, "Your code is 123456.", 1))
    assert (verdict.outcome, verdict.status, verdict.check) == (REJECT, S.ESME_RINVMSGLEN, "template")
    assert "part 1/2 of a concatenated message" in verdict.reason and "message_payload" in verdict.reason


def test_parts_pass_for_other_tenants_without_a_template_name() -> None:
    verdict = check("beta", part("BETA", UK_MOBILE, "Sale: 5% off", 2))
    assert (verdict.outcome, verdict.template) == (OK, None)


def test_single_message_with_a_udh_is_matched_without_it() -> None:
    request = mt("ACME", UK_MOBILE, OTP)
    request.payload = bytes([6, 5, 4, 0x0B, 0x84, 0x23, 0xF0]) + request.payload  # port addressing
    request.esm_class = 0x40
    assert check("acme", request).template == "otp"


def test_checks_run_in_order_sender_first() -> None:
    suppressed = InMemorySuppression([("acme", "+263770000000")])
    verdict = check("acme", mt("EVIL", "+263770000000", "nope"), suppressed)
    assert verdict.check == "sender"


def test_verdict_describe() -> None:
    assert check("acme", mt("ACME", UK_MOBILE, OTP)).describe() == "ok template=otp"
    assert check("acme", mt("EVIL", UK_MOBILE, OTP)).describe() == (
        "reject ESME_RINVSRCADR (0x0A) [sender]: sender 'EVIL' is not allowed for acme"
    )
