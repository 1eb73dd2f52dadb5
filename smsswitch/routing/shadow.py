"""Rules that can never match: an earlier rule accepts everything they would.

`covers(a, b)` is conservative — True only when every message b matches is provably matched
by a — so a warning is always real, though not every dead rule is found (time windows are
compared only for equality, sender globs by matching b's pattern text against a's).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import phonenumbers

from smsswitch.routing.match import MoMatch, MtMatch

__all__ = ["mo_covers", "mt_covers"]


def _subset(a: frozenset | None, b: frozenset | None) -> bool:  # type: ignore[type-arg]
    return a is None or (b is not None and b <= a)


def _under(prefixes: tuple[str, ...] | list[str], outer: tuple[str, ...]) -> bool:
    return all(p.startswith(outer) for p in prefixes)


def _single_region_code(region: str) -> int | None:
    code = phonenumbers.country_code_for_region(region)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    return code if len(regions) == 1 else None


def _dest_covered(a_prefixes, a_regions, a_codes, b_prefixes, b_regions, b_codes) -> bool:  # noqa: ANN001
    """Is b's destination space (prefixes ∩ countries) inside a's?"""
    if a_prefixes is None and a_regions is None:
        return True
    # Two descriptions of b's space; either being inside a's is enough (b is their intersection).
    candidates = []
    if b_prefixes is not None:
        candidates.append(("prefixes", list(b_prefixes)))
    if b_regions is not None:
        candidates.append(("countries", (b_regions, b_codes)))
    for kind, space in candidates:
        if kind == "prefixes":
            prefixes = space
        else:
            regions, codes = space
            prefixes = [f"+{c}" for c in codes] + [f"+{phonenumbers.country_code_for_region(r)}" for r in regions]
        ok = True
        if a_prefixes is not None:
            ok = _under(prefixes, a_prefixes)
        if ok and a_regions is not None:
            if kind == "countries":
                regions, codes = space
                ok = all(r in a_regions or phonenumbers.country_code_for_region(r) in a_codes for r in regions) and all(
                    c in a_codes for c in codes
                )
            else:
                outer = tuple(f"+{c}" for c in a_codes) + tuple(
                    f"+{code}" for r in a_regions if (code := _single_region_code(r)) is not None
                )
                ok = bool(outer) and _under(prefixes, outer)
        if ok:
            return True
    return False


def mt_covers(a: MtMatch, b: MtMatch) -> bool:
    """True when every MT message matching b also matches a."""
    if not (
        _subset(a.tenants, b.tenants)
        and _subset(a.networks, b.networks)
        and _subset(a.number_types, b.number_types)
        and _subset(a.data_coding, b.data_coding)
    ):
        return False
    if a.sender is not None:
        if b.sender is None:
            return False
        outer = [p.upper() for p in a.sender.texts]
        if not all(any(fnmatchcase(str(p).upper(), o) for o in outer) for p in b.sender.texts):
            return False
    if a.windows is not None:
        key = lambda w: (w.days, w.start, w.end, w.tz.key)  # noqa: E731
        if b.windows is None or not {key(w) for w in b.windows} <= {key(w) for w in a.windows}:
            return False
    return _dest_covered(a.prefixes, a.regions, a.codes, b.prefixes, b.regions, b.codes)


def mo_covers(a: MoMatch, b: MoMatch) -> bool:
    """True when every MO message matching b also matches a."""
    if not (_subset(a.to, b.to) and _subset(a.keywords, b.keywords) and _subset(a.connectors, b.connectors)):
        return False
    if a.to_prefixes is not None:
        inside = (b.to_prefixes is not None and _under(b.to_prefixes, a.to_prefixes)) or (
            b.to is not None and _under(sorted(b.to), a.to_prefixes)
        )
        if not inside:
            return False
    return _dest_covered(a.from_prefixes, a.from_regions, a.from_codes, b.from_prefixes, b.from_regions, b.from_codes)
