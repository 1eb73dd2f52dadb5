"""SMPP absolute and relative time fields."""

from __future__ import annotations

import calendar

import pytest

from smsswitch.server.smpp_time import SmppTimeError, format_absolute, parse_smpp_time

NOW = calendar.timegm((2024, 1, 31, 12, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("240131120000000+", NOW),
        ("240131120000500+", NOW + 0.5),
        ("240131130000004+", NOW),  # 13:00 local at UTC+1h (4 quarter hours) is 12:00 UTC
        ("240131063000022-", NOW),  # 06:30 local at UTC-5h30 (22 quarter hours)
        ("240131174500023+", NOW),  # India, UTC+5:45 (23 quarter hours)
    ],
)
def test_absolute(text: str, expected: float | None) -> None:
    assert parse_smpp_time(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("000000000100000R", 60),
        ("000001000000000R", 86400),
        ("000000013000000R", 90 * 60),  # hours/minutes past their calendar range are amounts
        ("000000000099000R", 99),
    ],
)
def test_relative(text: str, delta: float) -> None:
    assert parse_smpp_time(text, NOW) == NOW + delta


def test_relative_months_clamp_to_month_end() -> None:
    # Jan 31 + 1 month is Feb 29 in 2024.
    assert parse_smpp_time("000100000000000R", NOW) == calendar.timegm((2024, 2, 29, 12, 0, 0, 0, 0, 0))
    assert parse_smpp_time("010000000000000R", NOW) == calendar.timegm((2025, 1, 31, 12, 0, 0, 0, 0, 0))


def test_all_zero_relative_means_unset() -> None:
    assert parse_smpp_time("000000000000000R", NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "24013112000000+",  # 15 characters
        "2401311200000000+",  # 17
        "240131120000000*",  # unknown kind
        "24013112000000a+",
        "241331120000000+",  # month 13
        "240230120000000+",  # Feb 30
        "240131250000000+",  # hour 25
        "240131126000000+",  # minute 60
        "240131120000049+",  # offset above 48 quarter hours
        "00000000000000xR",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(SmppTimeError):
        parse_smpp_time(text, NOW)


def test_format_round_trip() -> None:
    assert format_absolute(NOW + 0.3) == "240131120000300+"
    assert parse_smpp_time(format_absolute(NOW), 0) == NOW
