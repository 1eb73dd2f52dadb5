"""Consent: the subscriber opt-outs (STOP/START, kept by the core in the journal) and the
operator's block list, as the policy sees them.

The opt-out store lives in the core (`smsswitch.core.suppression`, one LMDB get inside the
batch's read transaction), which policy must not import; so `check_mt` takes any
`is_suppressed(tenant, subscriber) -> bool`, called with the same subscriber key the core
files opt-outs under (E.164 when known, else the address as written). `InMemorySuppression`
is the stand-in for tests and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from smsswitch.numbers import NumberInfo

__all__ = ["BlockList", "InMemorySuppression", "SuppressionCheck", "subscriber_key"]

#: (tenant, subscriber key) -> True when that subscriber opted out of that tenant.
SuppressionCheck = Callable[[str, str], bool]


def subscriber_key(number: NumberInfo) -> str:
    """The form a subscriber is filed under: E.164 when known, else as written (the core's
    `smsswitch.core.suppression.subscriber_key`, repeated here to keep the layers apart)."""
    return number.e164 or number.raw.strip()


class InMemorySuppression:
    """A set of (tenant, subscriber) opt-outs; callable as a SuppressionCheck."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: set[tuple[str, str]] = set(entries)

    def opt_out(self, tenant: str, subscriber: str) -> None:
        self._entries.add((tenant, subscriber))

    def opt_in(self, tenant: str, subscriber: str) -> None:
        self._entries.discard((tenant, subscriber))

    def __call__(self, tenant: str, subscriber: str) -> bool:
        return (tenant, subscriber) in self._entries

    def __len__(self) -> int:
        return len(self._entries)


@attrs.frozen
class BlockList:
    """Operator-managed numbers nobody may send to: exact E.164 numbers in a set, and
    "+26377000*" prefixes for whole ranges."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> BlockList:
        exact, prefixes = set(), []
        for entry in entries:
            if entry.endswith("*"):
                prefixes.append(entry[:-1])
            else:
                exact.add(entry)
        return cls(frozenset(exact), tuple(prefixes))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def blocks(self, number: NumberInfo) -> bool:
        key = number.dialled or number.e164 or number.raw.strip()
        return key in self.exact or (bool(self.prefixes) and key.startswith(self.prefixes))
