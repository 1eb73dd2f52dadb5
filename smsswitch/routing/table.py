"""The compiled route table: an immutable value answering MT and MO lookups.

Lookup cost does not grow with the number of rules. Each MT rule is filed under one index:
its destination prefixes (country calling codes count as prefixes), else its ISO regions,
else its tenants, else the short list of rules that must always be tried. A lookup gathers
the candidate rule numbers from the few index entries that apply to this message (one dict
probe per distinct prefix length), then takes the first candidate, in file order, whose
remaining conditions hold. MO rules are filed by recipient number, else by keyword.

Hot reload is "compile the new file; if clean, swap the reference": a RouteTable never
changes, so a message keeps the decision it got from the table it was routed with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Union

import attrs

from smsswitch.numbers import NetworkMap, NumberInfo
from smsswitch.routing.actions import FixedAction, LeastCostAction, RejectAction, SplitAction
from smsswitch.routing.decisions import MoDecision, MtDecision
from smsswitch.routing.explain import Explanation, explain_mo, explain_mt
from smsswitch.routing.keywords import first_keyword
from smsswitch.routing.match import MoMatch, MtMatch, normalize_address
from smsswitch.yamlconf import ConfigWarning, Mark

__all__ = ["MoIndex", "MoRule", "MtIndex", "MtRule", "RouteTable"]

MtAction = Union[FixedAction, SplitAction, LeastCostAction, RejectAction]


@attrs.frozen(eq=False)
class MtRule:
    name: str
    mark: Mark
    match: MtMatch
    action: MtAction


@attrs.frozen(eq=False)
class MoRule:
    name: str
    mark: Mark
    match: MoMatch
    action: str  # "deliver" | "drop"
    tenant: str | None = None
    via: tuple[str, ...] | None = None
    reason: str = ""


@attrs.frozen(eq=False)
class MtIndex:
    """Rule numbers (ascending) filed by the one condition that selects them fastest."""

    by_prefix: Mapping[str, tuple[int, ...]]  # "+26377" → rules
    lengths: tuple[int, ...]  # distinct key lengths in by_prefix, ascending
    by_region: Mapping[str, tuple[int, ...]]
    by_tenant: Mapping[str, tuple[int, ...]]
    always: tuple[int, ...]


@attrs.frozen(eq=False)
class MoIndex:
    by_to: Mapping[str, tuple[int, ...]]
    by_keyword: Mapping[str, tuple[int, ...]]
    always: tuple[int, ...]


@attrs.frozen(eq=False)
class RouteTable:
    """Compiled routes. Build with `smsswitch.routing.compile_routes`, not directly."""

    source: str
    content_hash: str
    mt_rules: tuple[MtRule, ...]
    mo_rules: tuple[MoRule, ...]
    mt_index: MtIndex
    mo_index: MoIndex
    networks: NetworkMap
    no_route: MtDecision
    mo_default: MoDecision
    opt_out_keywords: frozenset[str]
    opt_in_keywords: frozenset[str]
    warnings: tuple[ConfigWarning, ...] = ()

    # ---------------------------------------------------------------------------------- MT

    def mt_candidates(self, tenant: str, dest: NumberInfo) -> tuple[int, ...] | list[int]:
        """Rule numbers worth testing for this tenant and destination, in file order."""
        index = self.mt_index
        parts: list[tuple[int, ...]] = []
        dialled = dest.dialled
        if dialled is not None and index.lengths:
            get = index.by_prefix.get
            size = len(dialled)
            for length in index.lengths:
                if length > size:
                    break
                hit = get(dialled[:length])
                if hit is not None:
                    parts.append(hit)
        if index.by_region:
            hit = index.by_region.get(dest.region)  # type: ignore[arg-type]
            if hit is not None:
                parts.append(hit)
        if index.by_tenant:
            hit = index.by_tenant.get(tenant)
            if hit is not None:
                parts.append(hit)
        if index.always:
            parts.append(index.always)
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return ()
        merged: list[int] = []
        for part in parts:
            merged.extend(part)
        merged.sort()
        return merged

    def route_mt(
        self,
        tenant: str,
        dest: NumberInfo,
        source: str,
        data_coding: int,
        now: datetime,
        draw: float = 0.0,
    ) -> MtDecision:
        """Decide an MT message's connectors (failover order) or its rejection.

        `now` must be timezone-aware (time windows convert it to their zone). `draw` is a
        uniform random number in [0, 1) from the caller, used only by weighted splits, so
        that the same inputs always give the same decision.
        """
        rules = self.mt_rules
        networks = self.networks
        for number in self.mt_candidates(tenant, dest):
            rule = rules[number]
            if rule.match.accepts(tenant, dest, source, data_coding, now, networks):
                return rule.action.decide(dest, draw)
        return self.no_route

    # ---------------------------------------------------------------------------------- MO

    def opt_of(self, keyword: str) -> str | None:
        if keyword in self.opt_out_keywords:
            return "out"
        if keyword in self.opt_in_keywords:
            return "in"
        return None

    def mo_candidates(self, to: str, keyword: str) -> tuple[int, ...] | list[int]:
        index = self.mo_index
        parts = [p for p in (index.by_to.get(to), index.by_keyword.get(keyword), index.always) if p]
        if len(parts) == 1:
            return parts[0]
        return sorted(n for part in parts for n in part)

    def find_mo_rule(self, to: str, keyword: str, sender: NumberInfo, connector: str) -> MoRule | None:
        """First MO rule that matches; for an opt-out/in keyword that no rule names, the first
        rule that matches the rest (so STOP to a tenant's short code concerns that tenant)."""
        rules = self.mo_rules
        for number in self.mo_candidates(to, keyword):
            if rules[number].match.accepts(to, keyword, sender, connector):
                return rules[number]
        if self.opt_of(keyword) is not None:
            for rule in rules:
                if rule.match.accepts(to, keyword, sender, connector, ignore_keyword=True):
                    return rule
        return None

    def mo_keyword_decides(self, to: str, sender: NumberInfo, connector: str) -> bool:
        """Whether an MO's first word can change where an MO to `to` (from `sender`, over
        `connector`) goes: some keyword rule would take it with the right word."""
        address = normalize_address(to)
        return any(
            rule.match.keywords is not None and rule.match.accepts(address, "", sender, connector, ignore_keyword=True)
            for rule in self.mo_rules
        )

    def route_mo(self, to: str, text: str, sender: NumberInfo, connector: str) -> MoDecision:
        """Decide which tenant gets an MO message (and how), or drop / dead-letter it.

        `to` is the recipient as the carrier sent it; "+2637…", "002637…" and "2637…" are
        the same, national formats are not rewritten (list them in `to:` if carriers use them).
        """
        address = normalize_address(to)
        keyword = first_keyword(text)
        opt = self.opt_of(keyword)
        rule = self.find_mo_rule(address, keyword, sender, connector)
        if rule is None:
            default = self.mo_default
            return MoDecision(
                rule=None, action=default.action, tenant=default.tenant, via=default.via,
                reason=default.reason, keyword=keyword, opt=opt,
            )
        return MoDecision(
            rule=rule.name, action=rule.action, tenant=rule.tenant, via=rule.via,
            reason=rule.reason, keyword=keyword, opt=opt if rule.action == "deliver" else None,
        )

    # ------------------------------------------------------------------------------ explain

    def explain_mt(
        self,
        tenant: str,
        dest: NumberInfo,
        source: str = "",
        data_coding: int = 0,
        now: datetime | None = None,
        draw: float = 0.0,
    ) -> Explanation:
        """Every rule in order with why it did (not) match, and the decision (slow path)."""
        return explain_mt(self, tenant, dest, source, data_coding, now, draw)

    def explain_mo(self, to: str, text: str, sender: NumberInfo, connector: str = "") -> Explanation:
        return explain_mo(self, to, text, sender, connector)
