"""SMPP 3.4 time fields (schedule_delivery_time, validity_period, final_date) ⇄ epoch seconds.

Section 7.1.1: 16 characters ``YYMMDDhhmmsstnnp``. Absolute: `t` tenths of a second, `nn`
the offset from UTC in quarter hours (00-48), `p` '+' (local time ahead of UTC) or '-'.
Relative: ``YYMMDDhhmmss000R`` — years, months, days, … to add to the SMSC's current time.
An empty field means "not set" (deliver now / SMSC default validity).

Pure functions: the caller passes `now`, so tests and the hot path never read a clock here.
"""

from __future__ import annotations

import calendar
import datetime as dt

__all__ = ["SmppTimeError", "parse_smpp_time", "format_absolute"]

_LENGTH = 16
_MAX_QUARTER_HOURS = 48


class SmppTimeError(ValueError):
    """The field is not a valid SMPP absolute or relative time."""


def parse_smpp_time(text: str, now: float) -> float | None:
    """Epoch seconds for an SMPP time field, None when empty; SmppTimeError when malformed.

    Relative times are added to `now` with calendar arithmetic (a month is a calendar
    month, clamped to its last day), as SMSCs do. An all-zero relative time is what many
    ESMEs send for "no value": it reads as empty.
    """
    if not text:
        return None
    if len(text) != _LENGTH:
        raise SmppTimeError(f"{len(text)} characters, expected 16")
    digits, sign = text[:15], text[15]
    if not digits.isascii() or not digits.isdigit():
        raise SmppTimeError("non-digit in time field")
    yy, mo, dd, hh, mi, ss = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    tenths, quarters = int(digits[12]), int(digits[13:15])
    if sign == "R":
        if digits.count("0") == 15:
            return None
        return _relative(now, yy, mo, dd, hh, mi, ss)
    if sign not in "+-":
        raise SmppTimeError(f"unknown time kind {sign!r}")
    if not (1 <= mo <= 12 and 1 <= dd <= 31 and hh <= 23 and mi <= 59 and ss <= 59):
        raise SmppTimeError("field out of range")
    if quarters > _MAX_QUARTER_HOURS:
        raise SmppTimeError(f"UTC offset {quarters} quarter hours above 48")
    year = 2000 + yy
    if dd > calendar.monthrange(year, mo)[1]:
        raise SmppTimeError("day beyond the end of the month")
    local = calendar.timegm((year, mo, dd, hh, mi, ss, 0, 0, 0)) + tenths / 10
    offset = quarters * 900
    return local - offset if sign == "+" else local + offset


def _relative(now: float, years: int, months: int, days: int, hours: int, minutes: int, seconds: int) -> float:
    # Relative fields may exceed their calendar range (e.g. 90 minutes): add them as amounts.
    base = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    total_months = base.month - 1 + months + 12 * years
    year, month = base.year + total_months // 12, total_months % 12 + 1
    day = min(base.day, calendar.monthrange(year, month)[1])
    shifted = base.replace(year=year, month=month, day=day)
    delta = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return (shifted + delta).timestamp()


def format_absolute(epoch: float) -> str:
    """SMPP absolute time in UTC (``YYMMDDhhmmsst00+``), e.g. for query_sm_resp final_date."""
    moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return moment.strftime("%y%m%d%H%M%S") + f"{moment.microsecond // 100_000}00+"
