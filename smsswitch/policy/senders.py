"""Which sender ids and numbers a tenant may send from, and what to do with the others."""

from __future__ import annotations

import attrs

from smsswitch.numbers import ALPHANUMERIC, SHORTCODE, NumberInfo, parse_number
from smsswitch.policy.verdict import SenderAddress
from smsswitch.routing.match import SenderPattern

__all__ = ["SenderRule", "sender_address"]

# SMPP TON/NPI we give a rewritten sender, by its kind.
_TON_NPI = {ALPHANUMERIC: (5, 0), SHORTCODE: (3, 0)}
_INTERNATIONAL = (1, 1)


def sender_address(sender: str) -> SenderAddress:
    """A configured or reply source address, parsed once: alphanumeric ids go out with
    TON 5, short codes with TON 3 (network specific), numbers as international E.164."""
    info = parse_number(sender, 0, 1, None)
    ton, npi = _TON_NPI.get(info.kind, _INTERNATIONAL)
    if ton == 1 and info.e164:
        info = parse_number(info.e164, 1, 1, None)
    return SenderAddress(info, ton, npi)


@attrs.frozen
class SenderRule:
    """`allow` globs ("ACME", "ACME*", "+4477009*"; case-insensitive, matched against the
    sender as written and its E.164 form). None means any sender. A sender not allowed is
    rejected, or rewritten to `rewrite` when the operator chose `otherwise: rewrite`."""

    allow: SenderPattern | None = None
    rewrite: SenderAddress | None = None

    def allows(self, source: NumberInfo) -> bool:
        if self.allow is None:
            return True
        raw = source.raw.strip()
        if self.allow.matches(raw):
            return True
        return source.e164 is not None and source.e164 != raw and self.allow.matches(source.e164)
