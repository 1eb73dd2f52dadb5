"""numbers' fast path for "+digits" must give exactly what phonenumbers.parse gives.

The fast path skips parse's text scanning for plain international digits (what most SMPP
submits carry); these properties hold it to parse on random digits and on digits that start
with every country code phonenumbers knows (national prefixes, Italian zeros, short and long
national numbers), and to the whole NumberInfo of the slow path.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from smsswitch import numbers
from smsswitch.numbers import NetworkMap, _parse_as, _parse_cached, _parse_plus_digits

_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
_NETWORKS = NetworkMap.from_networks({"Econet": ["+26377", "+26378"], "Other": ["+49151"]})


def _slow_parse(digits: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None


def _same_as_parse(digits: str) -> None:
    fast = _parse_plus_digits(digits)
    if fast is not None:
        assert fast == _slow_parse(digits), digits
        assert fast.italian_leading_zero == _slow_parse(digits).italian_leading_zero  # type: ignore[union-attr]


digit_strings = st.text(alphabet="0123456789", min_size=0, max_size=22)
coded = st.builds(
    lambda code, zeros, rest: f"{code}{'0' * zeros}{rest}",
    st.sampled_from(_CODES),
    st.integers(0, 3),
    st.text(alphabet="0123456789", min_size=0, max_size=16),
)


@settings(max_examples=3000, deadline=None)
@given(digit_strings)
def test_fast_parse_equals_parse_on_random_digits(digits: str) -> None:
    _same_as_parse(digits)


@settings(max_examples=5000, deadline=None)
@given(coded)
def test_fast_parse_equals_parse_after_each_country_code(digits: str) -> None:
    _same_as_parse(digits)


@pytest.mark.parametrize("code", _CODES)
def test_fast_parse_equals_parse_for_typical_lengths(code: int) -> None:
    for rest in ("1", "12", "0123456", "771234567", "15112345678", "0" * 9, "0612345678", "1" * 14):
        _same_as_parse(f"{code}{rest}")


@pytest.mark.parametrize("digits", ["²63771234567", "٢٦٣٧٧١٢٣٤٥٦٧", "0263771234567", "263", "1" * 18])
def test_fast_parse_declines_what_it_does_not_cover(digits: str) -> None:
    assert _parse_plus_digits(digits) is None


def _without_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "_parse_plus_digits", lambda digits: None)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(digit_strings, coded), st.sampled_from([None, _NETWORKS]))
def test_number_info_equals_slow_path(digits: str, networks: NetworkMap | None) -> None:
    fast = _parse_as(digits, "+" + digits, None, numbers.INTERNATIONAL, networks)
    with pytest.MonkeyPatch.context() as mp:
        _without_fast_path(mp)
        slow = _parse_as(digits, "+" + digits, None, numbers.INTERNATIONAL, networks)
    assert fast == slow


@pytest.mark.parametrize(
    ("raw", "ton"),
    [("263771234567", 1), ("+263771234567", 0), ("00263771234567", 0), ("4915112345678", 1),
     ("390612345678", 1), ("+800 1234 5678", 0), ("12025550123", 0), ("882 1234567890", 1)],
)
def test_parse_number_equals_slow_path(raw: str, ton: int, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _parse_cached.__wrapped__(raw, ton, 1, "ZW", _NETWORKS)
    _without_fast_path(monkeypatch)
    slow = _parse_cached.__wrapped__(raw, ton, 1, "ZW", _NETWORKS)
    assert fast == slow


def test_the_fast_path_is_on_and_checks_itself_against_parse() -> None:
    """It leans on phonenumbers' private helpers; a release that changes them must switch it
    off (parse is then used for everything), not route on wrong numbers."""
    assert numbers.FAST_PATH  # the installed phonenumbers agrees
    assert numbers._fast_path_agrees()

    def off_by_one(digits: str) -> phonenumbers.PhoneNumber | None:
        number = _parse_plus_digits(digits)
        if number is not None:
            number.national_number += 1
        return number

    def broken(digits: str) -> None:
        raise TypeError("helper changed its signature")

    assert not numbers._fast_path_agrees(off_by_one)
    assert not numbers._fast_path_agrees(broken)


def test_numbers_parse_the_same_with_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    digits = "+263771234567"
    fast = _parse_as(digits, digits, None, numbers.INTERNATIONAL, _NETWORKS)
    monkeypatch.setattr(numbers, "FAST_PATH", False)
    assert _parse_as(digits, digits, None, numbers.INTERNATIONAL, _NETWORKS) == fast
