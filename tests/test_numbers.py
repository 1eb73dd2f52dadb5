"""numbers: one parse per address, TON/NPI honoured, operator network map first."""

from __future__ import annotations

import phonenumbers
import pytest

from smsswitch.numbers import (
    ALPHANUMERIC,
    INTERNATIONAL,
    INVALID,
    NATIONAL,
    SHORTCODE,
    NetworkMap,
    NumberInfo,
    parse_number,
)


def test_zimbabwe_international() -> None:
    info = parse_number("+263771234567", ton=1, npi=1)
    assert info == NumberInfo(
        raw="+263771234567",
        kind=INTERNATIONAL,
        e164="+263771234567",
        dialled="+263771234567",
        region="ZW",
        country_code=263,
        national_number="771234567",
        number_type="mobile",
        network="Econet",
        is_valid=True,
        is_possible=True,
    )
    assert info.digits == "263771234567"


def test_zimbabwe_national_uses_tenant_region() -> None:
    info = parse_number("0771234567", ton=2, npi=1, default_region="ZW")
    assert (info.kind, info.e164, info.region, info.network, info.number_type) == (
        NATIONAL, "+263771234567", "ZW", "Econet", "mobile",
    )


def test_netone_range() -> None:
    assert parse_number("+263712345678", ton=1).network == "Net*One"


def test_gb_drama_range_is_gb_but_not_valid() -> None:
    # 07700 900xxx is Ofcom's range for fiction: possible, never valid. Region still GB.
    info = parse_number("+447700900123", ton=1)
    assert (info.e164, info.region, info.country_code, info.is_valid, info.is_possible) == (
        "+447700900123", "GB", 44, False, True,
    )
    assert info.network is None
    national = parse_number("07700900123", ton=2, default_region="GB")
    assert (national.kind, national.e164, national.region) == (NATIONAL, "+447700900123", "GB")


def test_gb_valid_mobile() -> None:
    info = parse_number("07400123456", ton=2, default_region="GB")
    assert (info.e164, info.region, info.number_type, info.is_valid) == ("+447400123456", "GB", "mobile", True)


def test_alphanumeric_kept_as_is() -> None:
    for ton in (5, 0):
        info = parse_number("ACME", ton=ton, npi=0)
        assert (info.kind, info.raw, info.e164, info.digits) == (ALPHANUMERIC, "ACME", None, None)


def test_short_code() -> None:
    info = parse_number("60682", ton=0, npi=0, default_region="ZW")
    assert (info.kind, info.e164, info.digits) == (SHORTCODE, None, "60682")


def test_unknown_ton_with_plus_or_00_is_international() -> None:
    assert parse_number("+263771234567", ton=0).e164 == "+263771234567"
    info = parse_number("00263771234567", ton=0, default_region="GB")
    assert (info.kind, info.e164) == (INTERNATIONAL, "+263771234567")


def test_unknown_ton_falls_back_to_international_digits() -> None:
    # ESMEs often send international digits without '+' and TON 0.
    info = parse_number("263771234567", ton=0, default_region="GB")
    assert (info.kind, info.e164, info.is_valid) == (INTERNATIONAL, "+263771234567", True)
    local = parse_number("0771234567", ton=0, default_region="ZW")
    assert (local.kind, local.e164) == (NATIONAL, "+263771234567")


def test_international_ton_without_plus() -> None:
    assert parse_number("263771234567", ton=1).e164 == "+263771234567"


def test_national_without_region_is_invalid() -> None:
    assert parse_number("0771234567", ton=2).kind == INVALID


def test_garbage_is_invalid() -> None:
    assert parse_number("+0", ton=1).kind == INVALID


def test_unknown_country_code_keeps_the_dialled_digits() -> None:
    # No country has +99, but a "+99" prefix rule must still be able to catch it.
    info = parse_number("+99123456", ton=1)
    assert (info.kind, info.e164, info.dialled, info.is_valid) == (INVALID, None, "+99123456", False)


def test_operator_network_map_takes_precedence() -> None:
    networks = NetworkMap.from_networks({"ported-block": ["+2637712"], "zw-econet-other": ["+26377"]})
    info = parse_number("+263771234567", ton=1, networks=networks)
    assert info.network == "ported-block"
    assert parse_number("+263779999999", ton=1, networks=networks).network == "zw-econet-other"
    assert networks.lookup("447700900123") is None


def test_parse_is_memoised() -> None:
    assert parse_number("+263771234567", 1, 1) is parse_number("+263771234567", 1, 1)


@pytest.mark.parametrize("raw", ["+263771234567", "+447400123456", "+447700900123", "+12025550123", "+3906123456"])
def test_validity_derived_from_type_matches_phonenumbers(raw: str) -> None:
    # We skip is_valid_number and derive it from number_type; check that they agree.
    assert parse_number(raw, ton=1).is_valid == phonenumbers.is_valid_number(phonenumbers.parse(raw))


def test_italian_leading_zero_kept_in_e164() -> None:
    assert parse_number("+3906123456", ton=1).e164 == "+3906123456"
