"""The shape of a route file and the checks of its single values (prefixes, countries, zones…).

Cross-rule checks (duplicate names, shadowing, groups, weights) live in the compiler; this
module only answers "is this one value well formed", with a hint when it is not.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import PhoneNumberType

from smsswitch.routing.keywords import normalize_keyword
from smsswitch.routing.match import DAY_NAMES
from smsswitch.smpp.constants import CommandStatus
from smsswitch.yamlconf import Field, Invalid, ListOf, MapOf, Schema

__all__ = ["NUMBER_TYPES", "VIA_CHANNELS", "route_file_schema"]

NUMBER_TYPES = tuple(name.lower() for name, value in vars(PhoneNumberType).items() if name.isupper())
VIA_CHANNELS = ("smpp", "webhook")
_PREFIX = re.compile(r"^\+[0-9]{1,15}$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")


def suggest(value: str, choices: Collection[str], what: str) -> str | None:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(choices) <= 12:
        return f"known {what}: " + (", ".join(sorted(choices)) or "none")
    return None


def check_prefix(value: str | int) -> str:
    """'+26377' → '+26377'; an unquoted 26377 or '26377' lacks the '+'."""
    text = str(value)
    if _PREFIX.match(text):
        return text
    if not text.startswith("+"):
        if text.isdigit():
            raise Invalid(f"bad prefix {text!r}: an E.164 prefix starts with '+'", hint=f"write \"+{text}\"")
        raise Invalid(f"bad prefix {text!r}: an E.164 prefix is '+' and digits", hint="e.g. \"+26377\"")
    if len(text) > 16:
        raise Invalid(f"bad prefix {text!r}: longer than an E.164 number (15 digits)")
    raise Invalid(f"bad prefix {text!r}: only digits may follow '+'", hint="e.g. \"+26377\"")


def check_country(value: str | int) -> tuple[str, str | int]:
    """ISO region ("ZW") or calling code (263, "263", "+263") → ("region", "ZW") / ("code", 263)."""
    text = str(value).strip().upper()
    digits = text.lstrip("+")
    if digits.isdigit():
        code = int(digits)
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return ("code", code)
        raise Invalid(f"unknown country calling code {text!r}", hint="e.g. 263 for Zimbabwe, 44 for the UK")
    if text in phonenumbers.SUPPORTED_REGIONS:
        return ("region", text)
    close = difflib.get_close_matches(text, list(phonenumbers.SUPPORTED_REGIONS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "use an ISO 3166 code like ZW or GB, or a calling code like 263"
    raise Invalid(f"unknown country {value!r}", hint=hint)


@lru_cache(maxsize=1)
def _all_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_tz(value: str) -> ZoneInfo:
    try:
        if "/" in value or value.upper() == "UTC":
            return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise Invalid(f"unknown time zone {value!r}", hint=suggest(value, _all_zones(), "zones") or "e.g. Africa/Harare, Europe/London, UTC")


def check_clock(value: str) -> int:
    """'08:30' → 510 minutes; '24:00' is the end of the day."""
    found = _CLOCK.match(str(value))
    if not found or (found.group(1) == "24" and found.group(2) != "00"):
        raise Invalid(f"bad time {value!r}: expected HH:MM from 00:00 to 24:00", hint='quote it: "08:00"')
    return int(found.group(1)) * 60 + int(found.group(2))


def check_days(values: list[str]) -> frozenset[int]:
    """['mon-fri'], ['sat', 'sun'], ['mon,wed'], ['fri-mon'] (wraps) → weekday numbers (mon=0)."""
    days: set[int] = set()
    for value in values:
        for part in str(value).lower().split(","):
            part = part.strip()
            ends = [p.strip() for p in part.split("-")]
            if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
                raise Invalid(f"bad days {value!r}", hint="use mon, tue, wed, thu, fri, sat, sun, ranges like mon-fri, or lists")
            first, last = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
    return frozenset(days)


def check_status(value: str | int) -> CommandStatus:
    if isinstance(value, int):
        if value in CommandStatus._value2member_map_ and value != 0:
            return CommandStatus(value)
        raise Invalid(f"unknown or non-error SMPP status {value:#x}")
    name = value.strip().upper()
    if name in CommandStatus.__members__ and name != "ESME_ROK":
        return CommandStatus[name]
    raise Invalid(f"unknown SMPP status {value!r}", hint=suggest(name, list(CommandStatus.__members__), "statuses") or "e.g. ESME_RINVDSTADR")


def check_number_type(value: str) -> str:
    name = value.strip().lower()
    if name in NUMBER_TYPES:
        return name
    raise Invalid(f"unknown number type {value!r}", hint=suggest(name, NUMBER_TYPES, "number types"))


def check_data_coding(value: int) -> int:
    if 0 <= value <= 255:
        return value
    raise Invalid(f"data_coding {value} is outside 0..255")


def check_keyword(value: str | int) -> str:
    text = str(value).strip()
    if not text or len(text.split()) != 1:
        raise Invalid(f"bad keyword {value!r}: a keyword is one word", hint="MO keywords match the first word of the text")
    return normalize_keyword(text)


def check_address(value: str | int) -> str:
    text = str(value).strip()
    if not text.lstrip("+").isdigit():
        raise Invalid(f"bad number {value!r}: expected a short code or +E.164 number", hint='e.g. "60682" or "+263771000000"')
    return text


def check_via(value: str) -> str:
    if value in VIA_CHANNELS:
        return value
    raise Invalid(f"unknown delivery channel {value!r}", hint=suggest(value, VIA_CHANNELS, "channels"))


def check_price(value: float) -> float:
    if value < 0:
        raise Invalid(f"price {value} is negative")
    return value


def _named(kind: str, known: Collection[str] | None):  # noqa: ANN202 - closure factory
    """A check that a tenant/connector name exists, when we know the names."""

    def check(value: str) -> str:
        if known is not None and value not in known:
            raise Invalid(f"unknown {kind} {value!r}", hint=suggest(value, known, f"{kind}s"))
        return value

    return check


def route_file_schema(known_tenants: Collection[str] | None, known_connectors: Collection[str] | None) -> dict[str, Schema]:
    """Schemas for the top level and for one MT/MO rule (rules are checked one by one so a bad
    rule does not hide the others from the cross-rule checks)."""
    tenant = _named("tenant", known_tenants)
    connector = _named("connector", known_connectors)
    text_or_number = (str, int)

    window = Schema(
        {
            # Defaults are given already checked (checks only run on values from the file).
            "days": Field(ListOf(str), default=frozenset(range(7)), check=check_days),
            "from": Field(str, default=0, check=check_clock),
            "to": Field(str, default=24 * 60, check=check_clock),
            "tz": Field(str, default=ZoneInfo("UTC"), check=check_tz),
        },
        name="time window",
    )
    mt_match = Schema(
        {
            "tenants": Field(ListOf(str, check=tenant, min_items=1)),
            "tenant_groups": Field(ListOf(str, min_items=1)),
            "prefixes": Field(ListOf(text_or_number, check=check_prefix, min_items=1)),
            "countries": Field(ListOf(text_or_number, check=check_country, min_items=1)),
            "networks": Field(ListOf(str, min_items=1)),
            "number_type": Field(ListOf(str, check=check_number_type, min_items=1)),
            "sender": Field(ListOf(text_or_number, min_items=1)),
            "data_coding": Field(ListOf(int, check=check_data_coding, min_items=1)),
            "time": Field(ListOf(window, min_items=1)),
        },
        name="mt match",
    )
    reject = Schema(
        {
            "status": Field((str, int), default="ESME_RINVDSTADR", check=check_status),
            "reason": Field(str, default=""),
        },
        name="reject",
    )
    mt_rule = Schema(
        {
            "name": Field(str, required=True),
            "match": Field(mt_match),
            "connectors": Field(ListOf(str, check=connector, min_items=1)),
            "split": Field(MapOf((int, float), check_key=connector)),
            "least_cost": Field(ListOf(str, check=connector, min_items=1)),
            "reject": Field(reject),
        },
        name="mt rule",
    )
    mo_match = Schema(
        {
            "to": Field(ListOf(text_or_number, check=check_address, min_items=1)),
            "to_prefixes": Field(ListOf(text_or_number, check=check_prefix, min_items=1)),
            "keyword": Field(ListOf(text_or_number, check=check_keyword, min_items=1)),
            "from_prefixes": Field(ListOf(text_or_number, check=check_prefix, min_items=1)),
            "from_countries": Field(ListOf(text_or_number, check=check_country, min_items=1)),
            "connectors": Field(ListOf(str, check=connector, min_items=1)),
        },
        name="mo match",
    )
    deliver = Schema(
        {"tenant": Field(str, required=True, check=tenant), "via": Field(ListOf(str, check=check_via, min_items=1))},
        name="deliver",
    )
    mo_rule = Schema(
        {
            "name": Field(str, required=True),
            "match": Field(mo_match),
            "deliver": Field(deliver),
            "drop": Field(str),
        },
        name="mo rule",
    )
    top = Schema(
        {
            "version": Field(int, required=True),
            "tenant_groups": Field(MapOf(ListOf(str, check=tenant)), default={}),
            "networks": Field(MapOf(ListOf(text_or_number, check=check_prefix, min_items=1)), default={}),
            "prices": Field(MapOf(MapOf((int, float), key=(str, int), check_key=check_prefix, check=check_price), check_key=connector), default={}),
            "no_route": Field(reject),
            "mt": Field(list, default=[]),
            "mo": Field(list, default=[]),
            "mo_default": Field(deliver),
            "opt_out": Field(
                Schema(
                    {
                        "stop": Field(ListOf(text_or_number, check=check_keyword), default=[]),
                        "start": Field(ListOf(text_or_number, check=check_keyword), default=[]),
                        "standard": Field(bool, default=True),
                    },
                    name="opt_out",
                ),
            ),
        },
        name="route file",
    )
    return {"top": top, "mt_rule": mt_rule, "mo_rule": mo_rule}
