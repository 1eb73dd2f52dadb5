"""Why a message goes where it goes: every rule in order, what failed, and the decision.

This is the slow path (it tests every rule and every condition); tests check that it always
reaches the same decision as the indexed lookup.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

from smsswitch.numbers import NumberInfo
from smsswitch.routing.actions import LeastCostAction, SplitAction
from smsswitch.routing.decisions import MoDecision, MtDecision
from smsswitch.routing.keywords import first_keyword
from smsswitch.routing.match import normalize_address

if TYPE_CHECKING:
    from smsswitch.routing.table import RouteTable

__all__ = ["Explanation", "RuleVerdict", "explain_mo", "explain_mt"]


@attrs.frozen
class RuleVerdict:
    """One rule's answer: matched, or the conditions that failed."""

    rule: str
    where: str  # file:line:column of the rule
    matched: bool
    reasons: tuple[str, ...] = ()


@attrs.frozen
class Explanation:
    direction: str  # "mt" | "mo"
    inputs: tuple[tuple[str, str], ...]
    verdicts: tuple[RuleVerdict, ...]
    decision: MtDecision | MoDecision
    details: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready structure (for the CLI's --json and for the HTTP API later)."""
        decision = attrs.asdict(self.decision)
        if isinstance(self.decision, MtDecision):
            decision["status"] = self.decision.status.name
        return {
            "direction": self.direction,
            "inputs": dict(self.inputs),
            "rules": [attrs.asdict(v) for v in self.verdicts],
            "decision": decision,
            "details": list(self.details),
        }

    def render(self) -> str:
        lines = [f"{self.direction.upper()} " + " ".join(f"{k}={v}" for k, v in self.inputs)]
        for verdict in self.verdicts:
            if verdict.matched:
                lines.append(f"  MATCH {verdict.rule} ({verdict.where})")
            else:
                lines.append(f"  no    {verdict.rule} ({verdict.where}): " + "; ".join(verdict.reasons))
        lines.extend(f"  {detail}" for detail in self.details)
        lines.append(_render_decision(self.decision))
        return "\n".join(lines)


def _render_decision(decision: MtDecision | MoDecision) -> str:
    rule = f"rule {decision.rule}" if decision.rule else "no rule matched"
    if isinstance(decision, MtDecision):
        if decision.routed:
            order = " -> ".join(decision.connectors)
            return f"=> {rule}: {decision.action} via {order} (failover in this order)"
        return f"=> {rule}: reject with {decision.status.name} (0x{int(decision.status):08X}): {decision.reason}"
    opt = f"; opt-{decision.opt} keyword {decision.keyword!r} for this tenant" if decision.opt else ""
    if decision.action == "deliver":
        via = ", ".join(decision.via) if decision.via else "the tenant's default channels"
        return f"=> {rule}: deliver to tenant {decision.tenant} via {via}{opt}"
    if decision.action == "drop":
        return f"=> {rule}: drop ({decision.reason})"
    return f"=> {rule}: dead letter ({decision.reason}){opt}"


def _describe_number(info: NumberInfo) -> str:
    if info.e164 is None:
        return f"{info.dialled or info.raw} ({info.kind})"
    facts = [info.region or "?", info.number_type or "?", info.network or "network unknown"]
    if not info.is_valid:
        facts.append("not a valid number")
    return f"{info.e164} ({', '.join(facts)})"


def explain_mt(
    table: RouteTable,
    tenant: str,
    dest: NumberInfo,
    source: str = "",
    data_coding: int = 0,
    now: datetime | None = None,
    draw: float = 0.0,
) -> Explanation:
    now = now or datetime.now(timezone.utc)
    inputs = (
        ("tenant", tenant),
        ("to", _describe_number(dest)),
        ("from", source or "-"),
        ("data_coding", str(data_coding)),
        ("at", now.isoformat(timespec="minutes")),
    )
    verdicts: list[RuleVerdict] = []
    decision: MtDecision = table.no_route
    details: list[str] = []
    for rule in table.mt_rules:
        reasons = rule.match.failures(tenant, dest, source, data_coding, now, table.networks)
        verdicts.append(RuleVerdict(rule.name, str(rule.mark), not reasons, tuple(reasons)))
        if reasons:
            continue
        decision = rule.action.decide(dest, draw)
        if isinstance(rule.action, LeastCostAction):
            prices = ", ".join(f"{name}={'no price' if p is None else p}" for name, p in rule.action.priced(dest))
            details.append(f"prices for {dest.dialled}: {prices}")
        elif isinstance(rule.action, SplitAction):
            weights = ", ".join(f"{name}={weight:g}" for name, weight in rule.action.weights)
            details.append(f"split {weights}; draw {draw:.3f} picks {decision.connectors[0]}")
        break
    return Explanation("mt", inputs, tuple(verdicts), decision, tuple(details))


def explain_mo(table: RouteTable, to: str, text: str, sender: NumberInfo, connector: str = "") -> Explanation:
    address = normalize_address(to)
    keyword = first_keyword(text)
    inputs = (
        ("to", address),
        ("keyword", repr(keyword)),
        ("from", _describe_number(sender)),
        ("connector", connector or "-"),
    )
    verdicts: list[RuleVerdict] = []
    matched = False
    for rule in table.mo_rules:
        reasons = rule.match.failures(address, keyword, sender, connector)
        verdicts.append(RuleVerdict(rule.name, str(rule.mark), not reasons, tuple(reasons)))
        if not reasons:
            matched = True
            break
    details: list[str] = []
    opt = table.opt_of(keyword)
    if not matched and opt is not None:
        for rule in table.mo_rules:
            if not rule.match.failures(address, keyword, sender, connector, ignore_keyword=True):
                details.append(f"{keyword!r} is an opt-{opt} keyword: rule {rule.name} matches when keywords are ignored")
                break
    decision = table.route_mo(to, text, sender, connector)
    return Explanation("mo", inputs, tuple(verdicts), decision, tuple(details))
