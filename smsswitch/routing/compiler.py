"""Route file → RouteTable, or every reason it cannot be one (file:line:column each).

`compile_routes` is what the daemon calls at start and on SIGHUP; `check_routes` is what
`smsswitch routes check` calls. Both run the same checks; warnings (a shadowed rule, weights
not summing to 100, a least-cost connector without prices) never stop a table from loading
and are kept on `RouteTable.warnings` for the reload log.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers.carrierdata import CARRIER_DATA

from smsswitch.numbers import NetworkMap
from smsswitch.routing.actions import FixedAction, LeastCostAction, PriceList, RejectAction, SplitAction
from smsswitch.routing.decisions import MoDecision, MtDecision
from smsswitch.routing.keywords import STANDARD_OPT_IN, STANDARD_OPT_OUT, normalize_keyword
from smsswitch.routing.match import DAY_NAMES, MoMatch, MtMatch, SenderPattern, TimeWindow, normalize_address
from smsswitch.routing.schema import route_file_schema, suggest
from smsswitch.routing.shadow import mo_covers, mt_covers
from smsswitch.routing.table import MoIndex, MoRule, MtIndex, MtRule, RouteTable
from smsswitch.smpp.constants import CommandStatus
from smsswitch.yamlconf import ConfigError, ConfigErrors, ConfigWarning, Mark, Schema, YamlList, YamlMap, load_yaml_text

__all__ = ["check_routes", "compile_routes"]

SUPPORTED_VERSION = 1
MT_ACTIONS = ("connectors", "split", "least_cost", "reject")
MO_ACTIONS = ("deliver", "drop")
_EXPANDED_TYPES = {"mobile": "fixed_line_or_mobile", "fixed_line": "fixed_line_or_mobile"}


def compile_routes(
    source: str | Path | dict,  # type: ignore[type-arg]
    known_tenants: Collection[str] | None = None,
    known_connectors: Collection[str] | None = None,
) -> RouteTable:
    """Compile a route file (path) or an already loaded document; raises ConfigErrors.

    known_tenants / known_connectors: names from the daemon config; None skips that check.
    """
    table, errors, _ = _compile_source(source, known_tenants, known_connectors)
    if errors or table is None:
        raise ConfigErrors(errors)
    return table


def check_routes(
    path: str | Path,
    known_tenants: Collection[str] | None = None,
    known_connectors: Collection[str] | None = None,
) -> tuple[list[ConfigError], list[ConfigWarning]]:
    """All errors and warnings of a route file, in file order."""
    _, errors, warnings = _compile_source(path, known_tenants, known_connectors)
    return errors, warnings


def _compile_source(
    source: str | Path | dict,  # type: ignore[type-arg]
    known_tenants: Collection[str] | None,
    known_connectors: Collection[str] | None,
) -> tuple[RouteTable | None, list[ConfigError], list[ConfigWarning]]:
    if isinstance(source, dict):
        filename = source.mark.file if isinstance(source, YamlMap) else "<routes>"
        digest = hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()
        doc = source
    else:
        filename = str(source)
        try:
            data = Path(source).read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [ConfigError(filename, 1, 1, f"cannot read route file: {exc}")], []
        digest = hashlib.sha256(data).hexdigest()
        try:
            doc = load_yaml_text(text, filename)
        except ConfigErrors as exc:
            return None, exc.errors, []
    compiler = _Compiler(filename, known_tenants, known_connectors)
    table = compiler.compile(doc, digest)
    order = lambda e: (e.file, e.line, e.column)  # noqa: E731
    return table, sorted(set(compiler.errors), key=order), sorted(set(compiler.warnings), key=order)


class _Compiler:
    """One compilation: collects errors and warnings while building the rules."""

    def __init__(self, filename: str, known_tenants: Collection[str] | None, known_connectors: Collection[str] | None):
        self.filename = filename
        self.known_tenants = set(known_tenants) if known_tenants is not None else None
        self.known_connectors = set(known_connectors) if known_connectors is not None else None
        self.schemas = route_file_schema(self.known_tenants, self.known_connectors)
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigWarning] = []
        self.groups: dict[str, frozenset[str]] | None = {}
        self.prices: dict[str, PriceList] | None = {}
        self.network_names: dict[str, str] | None = {}  # casefolded → as written

    def compile(self, doc: Any, digest: str) -> RouteTable | None:
        # partial: a broken top-level value must not hide the rules' own errors.
        top = self.schemas["top"].validate(doc, self.errors, at=Mark(self.filename, 1, 1), partial=True)
        if top is None:
            return None
        if "version" in top and top["version"] != SUPPORTED_VERSION:
            self.errors.append(
                top.value_mark("version").error(
                    f"unsupported route file version {top['version']}", hint=f"this smsswitch reads version {SUPPORTED_VERSION}"
                )
            )
        # A section that failed its own checks is absent: then do not judge references to it.
        self.groups = None if "tenant_groups" not in top else {n: frozenset(m) for n, m in top["tenant_groups"].items()}
        networks = top.get("networks", {})
        self.network_names = None if "networks" not in top else {n.casefold(): n for n in networks} | _carrier_names()
        self.prices = None if "prices" not in top else {n: PriceList.from_mapping(p) for n, p in top["prices"].items()}

        mt_rules = self._rules(top, "mt", self.schemas["mt_rule"], self._mt_rule)
        mo_rules = self._rules(top, "mo", self.schemas["mo_rule"], self._mo_rule)
        self._warn_shadowed_mt(mt_rules)
        self._warn_shadowed_mo(mo_rules)
        if self.errors:
            return None
        return RouteTable(
            source=self.filename,
            content_hash=digest,
            mt_rules=tuple(mt_rules),
            mo_rules=tuple(mo_rules),
            mt_index=_mt_index(mt_rules),
            mo_index=_mo_index(mo_rules),
            networks=NetworkMap.from_networks(networks),
            no_route=self._no_route(top.get("no_route")),
            mo_default=self._mo_default(top.get("mo_default")),
            opt_out_keywords=self._opt_words(top.get("opt_out"), "stop", STANDARD_OPT_OUT),
            opt_in_keywords=self._opt_words(top.get("opt_out"), "start", STANDARD_OPT_IN),
            warnings=tuple(sorted(set(self.warnings), key=lambda e: (e.line, e.column))),
        )

    # ------------------------------------------------------------------------------ shared

    def _rules(self, top: YamlMap, key: str, schema: Schema, build: Callable[[YamlMap, str, Mark], Any]) -> list[Any]:
        """Check each rule on its own (a bad rule must not hide the others), then build it."""
        items = top.get(key) or []
        rules, seen = [], {}
        for position, item in enumerate(items):
            at = items.item_mark(position) if isinstance(items, YamlList) else top.value_mark(key)
            checked = schema.validate(item, self.errors, at=at)
            if checked is None:
                continue
            name, name_at = checked["name"], checked.value_mark("name")
            if name in seen:
                self.errors.append(name_at.error(f"duplicate rule name {name!r} in {key}", hint=f"first used at line {seen[name].line}"))
                continue
            seen[name] = name_at
            rule = build(checked, name, at)
            if rule is not None:
                rules.append(rule)
        return rules

    def _one_action(self, rule: YamlMap, name: str, at: Mark, actions: tuple[str, ...]) -> str | None:
        given = [a for a in actions if rule.get(a) is not None]
        if len(given) == 1:
            return given[0]
        if not given:
            self.errors.append(at.error(f"rule {name!r} has no action", hint="give one of: " + ", ".join(actions)))
        else:
            self.errors.append(rule.key_mark(given[1]).error(f"rule {name!r} has more than one action ({', '.join(given)})", hint="keep one"))
        return None

    # ---------------------------------------------------------------------------------- MT

    def _mt_rule(self, rule: YamlMap, name: str, at: Mark) -> MtRule | None:
        action_name = self._one_action(rule, name, at, MT_ACTIONS)
        match = self._mt_match(rule.get("match"))
        if action_name is None or match is None:
            return None
        if action_name == "connectors":
            self._warn_repeats(rule["connectors"])
            action: Any = FixedAction(MtDecision(rule=name, action="connectors", connectors=tuple(rule["connectors"])))
        elif action_name == "split":
            action = self._split(name, rule["split"], rule.value_mark("split"))
        elif action_name == "least_cost":
            self._warn_repeats(rule["least_cost"])
            prices = self.prices or {}
            for position, connector in enumerate(rule["least_cost"]):
                if self.prices is not None and connector not in self.prices:
                    self.warnings.append(
                        rule["least_cost"].item_mark(position).warning(
                            f"connector {connector!r} has no prices; least_cost always puts it last", hint="add it under prices:"
                        )
                    )
            connectors = tuple(rule["least_cost"])
            action = LeastCostAction(name, connectors, tuple(prices.get(c) for c in connectors))
        else:
            reject = rule["reject"]
            reason = reject["reason"] or f"rejected by route {name}"
            action = RejectAction(MtDecision(rule=name, action="reject", status=reject["status"], reason=reason))
        return MtRule(name=name, mark=at, match=match, action=action)

    def _mt_match(self, match: YamlMap | None) -> MtMatch | None:
        if match is None:
            return MtMatch()
        ok = True
        tenants: set[str] | None = set(match["tenants"]) if match["tenants"] is not None else None
        if match["tenant_groups"] is not None:
            tenants = tenants or set()
            for position, group in enumerate(match["tenant_groups"]):
                if self.groups is None:
                    ok = False
                elif group not in self.groups:
                    ok = False
                    self.errors.append(
                        match["tenant_groups"].item_mark(position).error(
                            f"unknown tenant group {group!r}", hint=suggest(group, self.groups, "groups") or "define it under tenant_groups:"
                        )
                    )
                else:
                    tenants |= self.groups[group]
        regions = codes = None
        if match["countries"] is not None:
            regions = frozenset(v for kind, v in match["countries"] if kind == "region")
            codes = frozenset(v for kind, v in match["countries"] if kind == "code")
        networks = None
        if match["networks"] is not None:
            for position, network in enumerate(match["networks"]):
                if self.network_names is not None and network.casefold() not in self.network_names:
                    ok = False
                    self.errors.append(
                        match["networks"].item_mark(position).error(
                            f"unknown network {network!r}: not under networks: and not in phonenumbers' carrier data",
                            hint=self._suggest_network(network),
                        )
                    )
            networks = frozenset(n.casefold() for n in match["networks"])
        number_types = None
        if match["number_type"] is not None:
            number_types = frozenset(match["number_type"]) | {_EXPANDED_TYPES[t] for t in match["number_type"] if t in _EXPANDED_TYPES}
        windows = None
        if match["time"] is not None:
            windows = []
            for position, window in enumerate(match["time"]):
                if window["from"] == window["to"]:
                    ok = False
                    self.errors.append(
                        match["time"].item_mark(position).error("empty time window: from equals to", hint='for all day use from: "00:00", to: "24:00"')
                    )
                    continue
                text = f"{','.join(_days_text(window['days']))} {_clock(window['from'])}-{_clock(window['to'])} {window['tz'].key}"
                windows.append(TimeWindow(text, window["days"], window["from"], window["to"], window["tz"]))
            windows = tuple(windows)
        if not ok:
            return None
        return MtMatch(
            tenants=frozenset(tenants) if tenants is not None else None,
            prefixes=tuple(match["prefixes"]) if match["prefixes"] is not None else None,
            regions=regions,
            codes=codes,
            networks=networks,
            network_labels=tuple(match["networks"]) if match["networks"] is not None else None,
            number_types=number_types,
            sender=SenderPattern.compile([str(s) for s in match["sender"]]) if match["sender"] is not None else None,
            data_coding=frozenset(match["data_coding"]) if match["data_coding"] is not None else None,
            windows=windows,
        )

    def _suggest_network(self, network: str) -> str:
        close = difflib.get_close_matches(network.casefold(), list(self.network_names), n=1, cutoff=0.6)
        if close:
            return f"did you mean {self.network_names[close[0]]!r}?"
        return "map its prefixes under networks:"

    def _split(self, name: str, weights: YamlMap, at: Mark) -> SplitAction | None:
        bad = False
        for connector, weight in weights.items():
            if weight <= 0:
                bad = True
                self.errors.append(weights.value_mark(connector).error(f"split weight for {connector!r} must be positive, got {weight:g}", hint="remove the connector instead"))
        if not weights:
            self.errors.append(at.error(f"split of rule {name!r} names no connectors"))
            return None
        if bad:
            return None
        total = sum(weights.values())
        if abs(total - 100) > 1e-9:
            self.warnings.append(at.warning(f"split weights of rule {name!r} sum to {total:g}, not 100", hint=f"shares are weight/{total:g}"))
        return SplitAction.build(name, dict(weights))

    def _warn_repeats(self, names: YamlList) -> None:
        seen: set[str] = set()
        for position, name in enumerate(names):
            if name in seen:
                self.warnings.append(names.item_mark(position).warning(f"connector {name!r} is listed twice"))
            seen.add(name)

    def _no_route(self, reject: YamlMap | None) -> MtDecision:
        if reject is None:
            return MtDecision(rule=None, action="no_route", status=CommandStatus.ESME_RINVDSTADR, reason="no route matches")
        return MtDecision(rule=None, action="no_route", status=reject["status"], reason=reject["reason"] or "no route matches")

    def _warn_shadowed_mt(self, rules: list[MtRule]) -> None:
        """Earlier rules that could cover each rule: all rules without prefixes, plus those
        whose prefixes lead to this rule's prefixes (so 50,000 prefix rules stay cheap)."""
        plain: list[tuple[int, MtRule]] = []
        by_prefix: dict[str, list[tuple[int, MtRule]]] = defaultdict(list)
        for number, rule in enumerate(rules):
            candidates = list(plain)
            for prefix in _dest_prefixes(rule.match):
                for end in range(2, len(prefix) + 1):
                    candidates.extend(by_prefix.get(prefix[:end], ()))
            for _, earlier in sorted(candidates, key=lambda c: c[0]):
                if mt_covers(earlier.match, rule.match):
                    self.warnings.append(_shadow_warning(rule, earlier))
                    break
            if rule.match.prefixes is not None:
                for prefix in set(rule.match.prefixes):
                    by_prefix[prefix].append((number, rule))
            else:
                plain.append((number, rule))

    # ---------------------------------------------------------------------------------- MO

    def _mo_rule(self, rule: YamlMap, name: str, at: Mark) -> MoRule | None:
        action = self._one_action(rule, name, at, MO_ACTIONS)
        if action is None:
            return None
        match = rule.get("match") or {}
        mo_match = MoMatch(
            to=frozenset(normalize_address(t) for t in match["to"]) if match.get("to") is not None else None,
            to_prefixes=tuple(p[1:] for p in match["to_prefixes"]) if match.get("to_prefixes") is not None else None,
            keywords=frozenset(match["keyword"]) if match.get("keyword") is not None else None,
            from_prefixes=tuple(match["from_prefixes"]) if match.get("from_prefixes") is not None else None,
            from_regions=frozenset(v for k, v in match["from_countries"] if k == "region") if match.get("from_countries") is not None else None,
            from_codes=frozenset(v for k, v in match["from_countries"] if k == "code") if match.get("from_countries") is not None else None,
            connectors=frozenset(match["connectors"]) if match.get("connectors") is not None else None,
        )
        if action == "deliver":
            deliver = rule["deliver"]
            via = tuple(deliver["via"]) if deliver["via"] is not None else None
            return MoRule(name=name, mark=at, match=mo_match, action="deliver", tenant=deliver["tenant"], via=via)
        return MoRule(name=name, mark=at, match=mo_match, action="drop", reason=rule["drop"] or f"dropped by route {name}")

    def _mo_default(self, deliver: YamlMap | None) -> MoDecision:
        if deliver is None:
            return MoDecision(rule=None, action="dead_letter", reason="no MO route matches")
        via = tuple(deliver["via"]) if deliver["via"] is not None else None
        return MoDecision(rule=None, action="deliver", tenant=deliver["tenant"], via=via, reason="no MO route matches; mo_default")

    def _opt_words(self, opt_out: YamlMap | None, key: str, standard: Iterable[str]) -> frozenset[str]:
        words = set(opt_out[key]) if opt_out is not None else set()
        if opt_out is None or opt_out["standard"]:
            words |= {normalize_keyword(w) for w in standard}
        return frozenset(words)

    def _warn_shadowed_mo(self, rules: list[MoRule]) -> None:
        for number, rule in enumerate(rules):
            for earlier in rules[:number]:
                if mo_covers(earlier.match, rule.match):
                    self.warnings.append(_shadow_warning(rule, earlier))
                    break


# ------------------------------------------------------------------------------------- helpers


def _shadow_warning(rule: MtRule | MoRule, earlier: MtRule | MoRule) -> ConfigWarning:
    return rule.mark.warning(
        f"rule {rule.name!r} can never match: rule {earlier.name!r} (line {earlier.mark.line}) comes first and matches everything it does",
        hint="move it above, or narrow the earlier rule",
    )


def _dest_prefixes(match: MtMatch) -> list[str]:
    """Prefixes describing the rule's destinations (its prefixes, else its countries' codes)."""
    if match.prefixes is not None:
        return list(match.prefixes)
    if match.regions is not None:
        return [f"+{c}" for c in match.codes or ()] + [f"+{phonenumbers.country_code_for_region(r)}" for r in match.regions]
    return []


def _mt_index(rules: list[MtRule]) -> MtIndex:
    by_prefix: dict[str, list[int]] = defaultdict(list)
    by_region: dict[str, list[int]] = defaultdict(list)
    by_tenant: dict[str, list[int]] = defaultdict(list)
    always: list[int] = []
    for number, rule in enumerate(rules):
        match = rule.match
        if match.prefixes is not None:
            for prefix in set(match.prefixes):
                by_prefix[prefix].append(number)
        elif match.regions is not None:
            for code in match.codes or ():
                by_prefix[f"+{code}"].append(number)
            for region in match.regions:
                by_region[region].append(number)
        elif match.tenants is not None:
            for tenant in match.tenants:
                by_tenant[tenant].append(number)
        else:
            always.append(number)
    return MtIndex(
        by_prefix={k: tuple(v) for k, v in by_prefix.items()},
        lengths=tuple(sorted({len(k) for k in by_prefix})),
        by_region={k: tuple(v) for k, v in by_region.items()},
        by_tenant={k: tuple(v) for k, v in by_tenant.items()},
        always=tuple(always),
    )


def _mo_index(rules: list[MoRule]) -> MoIndex:
    by_to: dict[str, list[int]] = defaultdict(list)
    by_keyword: dict[str, list[int]] = defaultdict(list)
    always: list[int] = []
    for number, rule in enumerate(rules):
        if rule.match.to is not None:
            for to in rule.match.to:
                by_to[to].append(number)
        elif rule.match.keywords is not None:
            for keyword in rule.match.keywords:
                by_keyword[keyword].append(number)
        else:
            always.append(number)
    return MoIndex(
        by_to={k: tuple(v) for k, v in by_to.items()},
        by_keyword={k: tuple(v) for k, v in by_keyword.items()},
        always=tuple(always),
    )


@lru_cache(maxsize=1)
def _carrier_names() -> dict[str, str]:
    """phonenumbers' English carrier names, casefolded → as written."""
    return {names["en"].casefold(): names["en"] for names in CARRIER_DATA.values() if names.get("en")}


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: frozenset[int]) -> list[str]:
    if len(days) == 7:
        return ["every day"]
    return [DAY_NAMES[d] for d in sorted(days)]
