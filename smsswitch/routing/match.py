"""The compiled conditions of one rule: a fast yes/no for lookups and the reasons for explain.

`accepts` is the hot path and skips the destination-prefix test, because a rule with prefixes
is only ever reached through the prefix index (which already proved it). `failures` tests
everything and says in words what failed; explain uses it, and tests check the two agree.
Every condition is None when the rule does not constrain it.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from smsswitch.numbers import NetworkMap, NumberInfo

__all__ = ["MoMatch", "MtMatch", "SenderPattern", "TimeWindow", "normalize_address"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def normalize_address(address: str) -> str:
    """An MO recipient or config `to:` value as comparable digits: '+' and '00' dropped.

    Short codes stay as they are; "+263771000000", "00263771000000" and "263771000000" agree.
    """
    text = address.strip()
    if text.startswith("+"):
        return text[1:]
    if text.startswith("00") and len(text) > 8:
        return text[2:]
    return text


@attrs.frozen
class SenderPattern:
    """Sender-id globs, case-insensitive, compiled so that the common forms need no regex:
    exact names use a set, "ACME*" uses str.startswith; only other globs fall back to a regex."""

    texts: tuple[str, ...]
    exact: frozenset[str]
    prefixes: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...]

    @classmethod
    def compile(cls, patterns: list[str]) -> SenderPattern:
        exact, prefixes, regexes = set(), [], []
        for pattern in patterns:
            upper = pattern.upper()
            body = upper[:-1] if upper.endswith("*") else upper
            if any(ch in body for ch in "*?["):
                regexes.append(re.compile(fnmatch.translate(upper)))
            elif upper.endswith("*"):
                prefixes.append(body)
            else:
                exact.add(upper)
        return cls(tuple(patterns), frozenset(exact), tuple(prefixes), tuple(regexes))

    def matches(self, source: str) -> bool:
        upper = source.upper()
        if upper in self.exact or (self.prefixes and upper.startswith(self.prefixes)):
            return True
        return any(regex.match(upper) for regex in self.regexes)


@attrs.frozen
class TimeWindow:
    """Weekdays and a local time range in a zone. A range that crosses midnight ("22:00" to
    "06:00") belongs to the day it starts on. `end` is exclusive; "24:00" means end of day."""

    text: str
    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int
    tz: ZoneInfo

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start < self.end:
            return self.start <= minute < self.end and day in self.days
        if minute >= self.start:
            return day in self.days
        return minute < self.end and (day - 1) % 7 in self.days


def _network_of(dest: NumberInfo, networks: NetworkMap) -> str | None:
    digits = dest.e164[1:] if dest.e164 else None
    return networks.lookup(digits) or dest.network


def _list(values: object) -> str:
    if isinstance(values, (set, frozenset)):
        values = sorted(values, key=str)
    return ", ".join(str(v) for v in values)  # type: ignore[attr-defined]


@attrs.frozen
class MtMatch:
    """Conditions of an MT rule (all must hold). Sets hold normalised values: networks are
    casefolded, number types include "fixed_line_or_mobile" for mobile and fixed_line."""

    tenants: frozenset[str] | None = None
    prefixes: tuple[str, ...] | None = None  # "+26377", with the '+'
    regions: frozenset[str] | None = None  # set together with codes when countries are given
    codes: frozenset[int] | None = None
    networks: frozenset[str] | None = None
    number_types: frozenset[str] | None = None
    network_labels: tuple[str, ...] | None = attrs.field(default=None, eq=False)  # as written, for explain
    sender: SenderPattern | None = None
    data_coding: frozenset[int] | None = None
    windows: tuple[TimeWindow, ...] | None = None

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, f.name) is None for f in attrs.fields(MtMatch) if f.eq)

    def accepts(
        self,
        tenant: str,
        dest: NumberInfo,
        source: str,
        data_coding: int,
        now: datetime,
        networks: NetworkMap,
    ) -> bool:
        """Hot path: every condition except prefixes (proved by the index)."""
        if self.tenants is not None and tenant not in self.tenants:
            return False
        if self.regions is not None and dest.region not in self.regions and dest.country_code not in self.codes:  # type: ignore[operator]
            return False
        if self.number_types is not None and dest.number_type not in self.number_types:
            return False
        if self.data_coding is not None and data_coding not in self.data_coding:
            return False
        if self.sender is not None and not self.sender.matches(source):
            return False
        if self.networks is not None:
            network = _network_of(dest, networks)
            if network is None or network.casefold() not in self.networks:
                return False
        if self.windows is not None and not any(w.contains(now) for w in self.windows):
            return False
        return True

    def failures(
        self,
        tenant: str,
        dest: NumberInfo,
        source: str,
        data_coding: int,
        now: datetime,
        networks: NetworkMap,
    ) -> list[str]:
        """Every condition that does not hold, in words (for explain)."""
        why: list[str] = []
        if self.tenants is not None and tenant not in self.tenants:
            why.append(f"tenant {tenant!r} is not one of {_list(self.tenants)}")
        if self.prefixes is not None and not (dest.dialled and dest.dialled.startswith(self.prefixes)):
            shown = self.prefixes if len(self.prefixes) <= 8 else self.prefixes[:8] + ("…",)
            why.append(f"destination {dest.dialled or dest.raw} does not start with {_list(shown)}")
        if self.regions is not None and dest.region not in self.regions and dest.country_code not in self.codes:  # type: ignore[operator]
            countries = _list(sorted(self.regions) + sorted(self.codes))  # type: ignore[arg-type]
            why.append(f"destination country {dest.region or '?'} (+{dest.country_code or '?'}) is not one of {countries}")
        if self.networks is not None:
            network = _network_of(dest, networks)
            if network is None or network.casefold() not in self.networks:
                why.append(f"destination network {network or 'unknown'} is not one of {_list(self.network_labels or self.networks)}")
        if self.number_types is not None and dest.number_type not in self.number_types:
            why.append(f"number type {dest.number_type or 'none'} is not one of {_list(self.number_types)}")
        if self.sender is not None and not self.sender.matches(source):
            why.append(f"sender {source!r} does not match {_list(self.sender.texts)}")
        if self.data_coding is not None and data_coding not in self.data_coding:
            why.append(f"data_coding {data_coding} is not one of {_list(self.data_coding)}")
        if self.windows is not None and not any(w.contains(now) for w in self.windows):
            shown_now = now.isoformat(timespec="minutes")
            why.append(f"time {shown_now} is outside {'; '.join(w.text for w in self.windows)}")
        return why


@attrs.frozen
class MoMatch:
    """Conditions of an MO rule: recipient (exact or prefix), keyword, sender, connector."""

    to: frozenset[str] | None = None  # normalize_address() forms
    to_prefixes: tuple[str, ...] | None = None  # digits, no '+'
    keywords: frozenset[str] | None = None  # normalize_keyword() forms
    from_prefixes: tuple[str, ...] | None = None  # "+2637", with the '+'
    from_regions: frozenset[str] | None = None
    from_codes: frozenset[int] | None = None
    connectors: frozenset[str] | None = None

    @property
    def is_catch_all(self) -> bool:
        return all(getattr(self, f.name) is None for f in attrs.fields(MoMatch))

    def accepts(self, to: str, keyword: str, sender: NumberInfo, connector: str, ignore_keyword: bool = False) -> bool:
        if self.to is not None and to not in self.to:
            return False
        if self.to_prefixes is not None and not to.startswith(self.to_prefixes):
            return False
        if self.keywords is not None and not ignore_keyword and keyword not in self.keywords:
            return False
        if self.connectors is not None and connector not in self.connectors:
            return False
        if self.from_prefixes is not None and not (sender.dialled and sender.dialled.startswith(self.from_prefixes)):
            return False
        if (
            self.from_regions is not None
            and sender.region not in self.from_regions
            and sender.country_code not in self.from_codes  # type: ignore[operator]
        ):
            return False
        return True

    def failures(self, to: str, keyword: str, sender: NumberInfo, connector: str, ignore_keyword: bool = False) -> list[str]:
        why: list[str] = []
        if self.to is not None and to not in self.to:
            why.append(f"recipient {to} is not one of {_list(self.to)}")
        if self.to_prefixes is not None and not to.startswith(self.to_prefixes):
            why.append(f"recipient {to} does not start with {_list(self.to_prefixes)}")
        if self.keywords is not None and not ignore_keyword and keyword not in self.keywords:
            why.append(f"keyword {keyword!r} is not one of {_list(self.keywords)}")
        if self.connectors is not None and connector not in self.connectors:
            why.append(f"connector {connector!r} is not one of {_list(self.connectors)}")
        if self.from_prefixes is not None and not (sender.dialled and sender.dialled.startswith(self.from_prefixes)):
            why.append(f"sender {sender.dialled or sender.raw} does not start with {_list(self.from_prefixes)}")
        if (
            self.from_regions is not None
            and sender.region not in self.from_regions
            and sender.country_code not in self.from_codes  # type: ignore[operator]
        ):
            countries = _list(sorted(self.from_regions) + sorted(self.from_codes))  # type: ignore[arg-type]
            why.append(f"sender country {sender.region or '?'} is not one of {countries}")
        return why
