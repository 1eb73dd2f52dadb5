"""The forms under which a carrier message id is stored and looked up.

Carriers write the same id in hex in submit_sm_resp and in decimal in the receipt (or the
other way round), with or without leading zeros and in either case. The shared function
lives in smsswitch.smpp.receipt; until that module is committed this private equivalent
stands in (same contract: first element is the canonical literal form).
"""

from __future__ import annotations

from collections.abc import Callable

#: Longest id we try to read as a number (a 64-bit value is 16 hex / 20 decimal digits).
_MAX_NUMERIC_DIGITS = 20


def _private_carrier_id_variants(message_id: str) -> tuple[str, ...]:
    text = message_id.strip().strip("\x00").lower()
    if not text:
        return ()
    canonical = (text.lstrip("0") or "0") if text.isalnum() else text
    forms = [canonical]
    if len(canonical) <= _MAX_NUMERIC_DIGITS and canonical.isascii():
        if canonical.isdigit():
            forms.append(format(int(canonical), "x"))  # it was decimal; receipt may say hex
        try:
            forms.append(str(int(canonical, 16)))  # it was hex; receipt may say decimal
        except ValueError:
            pass
    return tuple(dict.fromkeys(forms))


def _load() -> Callable[[str], tuple[str, ...]]:
    try:
        from smsswitch.smpp.receipt import carrier_id_variants  # type: ignore[attr-defined]
    except ImportError:
        return _private_carrier_id_variants
    return carrier_id_variants


carrier_id_variants = _load()
