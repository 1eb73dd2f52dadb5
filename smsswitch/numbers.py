"""Parse an SMPP address once, on accept, and carry the result through routing and policy.

phonenumbers is accurate but costs ~20 µs to parse and a few µs per question, against a
budget of ~100 µs per message for everything. So `parse_number` asks each question once,
packs the answers into a frozen `NumberInfo`, and memoises by (raw, ton, npi, region, map):
the same destinations recur constantly (OTP to the same users, tests, retries).

Example::

    info = parse_number("0771234567", ton=2, npi=1, default_region="ZW")
    info.e164, info.region, info.network, info.number_type   # "+263771234567", "ZW", "Econet", "mobile"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import attrs
import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, PhoneNumberType, carrier

try:  # private helpers of phonenumbers' parse, for the fast path below; a release without them
    # (or that changed what they do: see _fast_path_agrees) only costs us that path.
    from phonenumbers.phonenumberutil import (
        ValidationResult,
        _maybe_strip_national_prefix_carrier_code,
        _set_italian_leading_zeros_for_phone_number,
        _test_number_length,
    )
except ImportError:  # pragma: no cover - depends on the installed phonenumbers
    _FAST_IMPORTED = False
else:
    _FAST_IMPORTED = True

__all__ = [
    "INTERNATIONAL",
    "NATIONAL",
    "ALPHANUMERIC",
    "SHORTCODE",
    "INVALID",
    "NetworkMap",
    "NumberInfo",
    "parse_number",
]

INTERNATIONAL = "international"
NATIONAL = "national"
ALPHANUMERIC = "alphanumeric"
SHORTCODE = "shortcode"
INVALID = "invalid"

#: SMPP TON values we treat specially (smsswitch.smpp.constants.Ton, repeated to keep this
#: module free of protocol imports).
TON_UNKNOWN, TON_INTERNATIONAL, TON_NATIONAL, TON_ALPHANUMERIC = 0, 1, 2, 5

#: Longest digit string we still call a short code.
SHORTCODE_MAX_DIGITS = 6

_TYPE_NAMES = {value: name.lower() for name, value in vars(PhoneNumberType).items() if name.isupper()}
#: Number types for which the carrier prefix data is meaningful (phonenumbers' own rule).
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER})


@attrs.frozen
class NumberInfo:
    """Everything routing and policy want to know about one address, computed once.

    kind: international | national (how it was written) | alphanumeric | shortcode | invalid.
    e164 is set whenever the digits could be placed in a country, valid or not.
    dialled is "+digits" whenever the number was written or flagged as international, even
    when no country has that code ("+99123…"); it equals e164 otherwise. Prefix rules match it.
    number_type is phonenumbers' type in lower case ("mobile", "fixed_line",
    "fixed_line_or_mobile", "toll_free", ..., "unknown"), None when not a phone number.
    network is the operator map's name if one matches, else phonenumbers' carrier name (English),
    else None.
    """

    raw: str
    kind: str
    e164: str | None = None
    dialled: str | None = None
    region: str | None = None
    country_code: int | None = None
    national_number: str | None = None
    number_type: str | None = None
    network: str | None = None
    is_valid: bool = False
    is_possible: bool = False

    @property
    def digits(self) -> str | None:
        """E.164 without the '+', or the short code's digits: what prefix tries walk."""
        if self.e164 is not None:
            return self.e164[1:]
        if self.kind == SHORTCODE:
            return self.raw
        return None


@attrs.frozen(eq=False)
class NetworkMap:
    """Operator-supplied E.164 prefix → network name, longest prefix wins.

    For ranges phonenumbers does not know or gets wrong (ported blocks, MVNOs).
    Identity-hashed so it can be part of parse_number's cache key.
    """

    by_prefix: Mapping[str, str]
    longest: int

    @classmethod
    def from_networks(cls, networks: Mapping[str, Iterable[str]]) -> NetworkMap:
        """Build from {network: ["+26371", ...]} (the route file's `networks:` section)."""
        by_prefix: dict[str, str] = {}
        for name, prefixes in networks.items():
            for prefix in prefixes:
                by_prefix[prefix.lstrip("+")] = name
        return cls(by_prefix, max((len(p) for p in by_prefix), default=0))

    def lookup(self, digits: str | None) -> str | None:
        """Network for E.164 digits (no '+'), or None."""
        if not digits or not self.by_prefix:
            return None
        get = self.by_prefix.get
        for end in range(min(self.longest, len(digits)), 0, -1):
            name = get(digits[:end])
            if name is not None:
                return name
        return None


def parse_number(
    raw: str,
    ton: int = TON_UNKNOWN,
    npi: int = 1,
    default_region: str | None = None,
    networks: NetworkMap | None = None,
) -> NumberInfo:
    """Classify and parse an SMPP address, honouring its TON.

    TON 5 (alphanumeric) or any letters: kept as is. Up to 6 digits without '+'/'00': a
    short code. TON 1: international (a '+' or '00' in front is tolerated). TON 2: national,
    in `default_region` (the tenant's). TON 0 and others: '+' or '00' in front means
    international, otherwise national in `default_region`, falling back to international
    when that does not give a valid number (ESMEs often send "2637..." with TON 0).
    Results are memoised; NumberInfo is immutable so sharing is safe.
    """
    return _parse_cached(raw, ton, npi, default_region, networks)


@lru_cache(maxsize=16384)  # ~0.5 KB an entry: ~8 MB at most
def _parse_cached(
    raw: str, ton: int, npi: int, default_region: str | None, networks: NetworkMap | None
) -> NumberInfo:
    text = raw.strip()
    if ton == TON_ALPHANUMERIC or (text and not _looks_numeric(text)):
        return NumberInfo(raw=raw, kind=ALPHANUMERIC)
    compact = text.replace(" ", "").replace("-", "")
    international_prefix = compact.startswith("+") or compact.startswith("00")
    if compact.isdigit() and len(compact) <= SHORTCODE_MAX_DIGITS and not international_prefix:
        return NumberInfo(raw=raw, kind=SHORTCODE, national_number=compact)

    digits = compact.lstrip("+")
    if digits.startswith("00") and (compact.startswith("00") or ton == TON_INTERNATIONAL):
        digits = digits[2:]
    if ton == TON_INTERNATIONAL or international_prefix:
        info = _parse_as(raw, "+" + digits, None, INTERNATIONAL, networks)
        if info.kind == INVALID and digits.isdigit():
            return attrs.evolve(info, dialled="+" + digits)
        return info
    if ton == TON_NATIONAL:
        return _parse_as(raw, compact, default_region, NATIONAL, networks)
    if default_region:
        national = _parse_as(raw, compact, default_region, NATIONAL, networks)
        if national.is_valid:
            return national
        international = _parse_as(raw, "+" + digits, None, INTERNATIONAL, networks)
        return international if international.is_valid else national
    return _parse_as(raw, "+" + digits, None, INTERNATIONAL, networks)


def _looks_numeric(text: str) -> bool:
    return text.lstrip("+").replace(" ", "").replace("-", "").isdigit()


#: What phonenumbers.parse keeps the national-prefix-stripped digits for (its own rule).
_STRIP_REFUSED = (
    (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY, ValidationResult.INVALID_LENGTH)
    if _FAST_IMPORTED else ()
)  # fmt: skip
#: Digit counts (country code included) the fast path takes; others go to phonenumbers.parse.
_FAST_MIN_DIGITS, _FAST_MAX_DIGITS = 4, 17


def _parse_plus_digits(digits: str) -> PhoneNumber | None:
    """phonenumbers.parse("+" + digits) for plain ASCII digits, the common SMPP case, without
    its text scanning and regexes (half of a parse's ~30 µs); None sends the caller to parse.

    The same steps parse takes for such input, in its order (tests/server/test_numbers_fast.py
    proves the result identical): country code of 1-3 digits, national prefix stripped when
    what is left still has a possible length, Italian leading zeros kept.
    """
    if not (
        _FAST_MIN_DIGITS <= len(digits) <= _FAST_MAX_DIGITS and digits.isascii() and digits.isdigit()
    ) or digits[0] == "0":  # parse finds no country code after "+0"
        return None
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2:
        return None
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code)
    )
    if metadata is None:
        return None
    _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if _test_number_length(stripped, metadata) not in _STRIP_REFUSED:
        national = stripped
    if len(national) < 2:
        return None
    number = PhoneNumber(country_code=country_code)
    _set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


#: Numbers whose fast and slow parses must agree before the fast path is used: national
#: prefixes, Italian leading zeros, a shared calling code (+1), a short and a long number.
_FAST_PATH_SAMPLES = (
    "263771234567", "2630771234567", "447400123456", "390612345678", "393471234567", "12025550123",
    "4915112345678", "8613800138000", "5491123456789", "6281234567890", "35312345", "79161234567",
)  # fmt: skip


def _fast_path_agrees(fast: Any = None) -> bool:
    """Whether the fast path gives phonenumbers.parse's result on every sample (checked once
    at import: the fast path leans on phonenumbers' private helpers)."""
    fast = fast or _parse_plus_digits
    for digits in _FAST_PATH_SAMPLES:
        try:
            quick = fast(digits)
            slow = phonenumbers.parse("+" + digits, None)
        except Exception:  # noqa: BLE001 - a changed helper may fail any way it likes
            return False
        if quick is not None and quick != slow:
            return False
    return True


#: False when phonenumbers lacks the private helpers, or they no longer agree with its parse.
FAST_PATH = _FAST_IMPORTED and _fast_path_agrees()


def _parse_as(raw: str, text: str, region: str | None, kind: str, networks: NetworkMap | None) -> NumberInfo:
    number = _parse_plus_digits(text[1:]) if FAST_PATH and region is None and text[:1] == "+" else None
    if number is None:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return NumberInfo(raw=raw, kind=INVALID)
    return _describe(raw, number, kind, networks)


def _describe(raw: str, number: PhoneNumber, kind: str, networks: NetworkMap | None) -> NumberInfo:
    country_code = number.country_code
    national = phonenumbers.national_significant_number(number)
    e164 = f"+{country_code}{national}"
    # region_code_for_number is None for numbers no region claims; use the code's main region.
    region_code = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
        country_code
    )
    ntype = phonenumbers.number_type(number)
    # number_type is UNKNOWN exactly when is_valid_number is False (same metadata test), so
    # we do not pay for the second call.
    is_valid = ntype != PhoneNumberType.UNKNOWN
    network = networks.lookup(e164[1:]) if networks is not None else None
    if network is None and is_valid and ntype in _MOBILE_TYPES:
        network = carrier.name_for_valid_number(number, "en") or None
    return NumberInfo(
        raw=raw,
        kind=kind,
        e164=e164,
        dialled=e164,
        region=None if region_code == "ZZ" else region_code,
        country_code=country_code,
        national_number=national,
        number_type=_TYPE_NAMES.get(ntype, "unknown"),
        network=network,
        is_valid=is_valid,
        # A valid number is possible by definition; only ask about the others.
        is_possible=is_valid or phonenumbers.is_possible_number(number),
    )
