"""Policy YAML → a compiled `Policy`, with every problem reported at file:line:column.

The daemon config names the file (`policy: policy.yaml`); `load_policy` is what the daemon
calls on start and on SIGHUP (a file with errors raises ConfigErrors and the running policy
stays). The format is in the package docstring (smsswitch/policy/__init__.py).
"""

from __future__ import annotations

import string
from collections.abc import Collection
from pathlib import Path
from typing import Any

import phonenumbers

from smsswitch.numbers import ALPHANUMERIC, INVALID
from smsswitch.policy.autoreply import REPLY_FIELDS, AutoReplySettings, ReplyTemplate
from smsswitch.policy.consent import BlockList
from smsswitch.policy.policy import DEFAULT_CONSENT_STATUS, DEFAULT_TEMPLATE_STATUS, Countries, Policy, TenantPolicy
from smsswitch.policy.senders import SenderRule, sender_address
from smsswitch.policy.templates import TemplateError, TemplateSet, parse_template
from smsswitch.routing.match import SenderPattern, normalize_address
from smsswitch.routing.schema import check_country, check_status, suggest
from smsswitch.yamlconf import (
    ConfigError,
    ConfigErrors,
    Field,
    Invalid,
    ListOf,
    Mark,
    MapOf,
    Schema,
    YamlMap,
    load_yaml,
    load_yaml_text,
)

__all__ = ["load_policy", "load_policy_text", "policy_schema"]

_ALNUM_SENDER_MAX = 11


def _positive(value: float) -> float:
    if value <= 0:
        raise Invalid(f"{value} must be more than 0")
    return value


def _block_entry(value: str | int) -> str:
    text = str(value).strip()
    body = text[:-1] if text.endswith("*") else text
    if not (body.startswith("+") and body[1:].isdigit() and 1 <= len(body) - 1 <= 15):
        raise Invalid(f"bad block-list entry {value!r}", hint='an E.164 number "+263770000000" or a range "+26377000*"')
    return text


def _address(value: str | int) -> str:
    text = str(value).strip()
    if not text.lstrip("+").isdigit():
        raise Invalid(f"bad address {value!r}: expected a short code or +E.164 number", hint='e.g. "60682" or "+263771000000"')
    return normalize_address(text)


def _reply_text(value: str) -> str:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise Invalid(f"bad reply text: {exc}", hint="write {{ and }} for literal braces") from None
    for field in fields:
        if field not in REPLY_FIELDS:
            raise Invalid(f"unknown field {{{field}}} in reply text", hint="reply texts may use " + ", ".join(f"{{{f}}}" for f in REPLY_FIELDS))
    if not value.strip():
        raise Invalid("empty reply text")
    return value


def _default_sender(value: str | int) -> str:
    text = str(value).strip()
    info = sender_address(text).source
    if info.kind == ALPHANUMERIC and not (len(text) <= _ALNUM_SENDER_MAX and text.isprintable()):
        raise Invalid(f"sender id {text!r} is longer than {_ALNUM_SENDER_MAX} characters")
    if info.kind == INVALID or (info.e164 is not None and not phonenumbers.is_possible_number(phonenumbers.parse(info.e164))):
        raise Invalid(f"default sender {text!r} is not a usable number or sender id")
    return text


def policy_schema(known_tenants: Collection[str] | None) -> Schema:
    def tenant_name(value: str) -> str:
        if known_tenants is not None and value not in known_tenants:
            raise Invalid(f"unknown tenant {value!r}", hint=suggest(value, known_tenants, "tenants"))
        return value

    text_or_number = (str, int)
    senders = Schema(
        {
            "allow": Field(ListOf(text_or_number, min_items=1), doc="globs; absent = any sender"),
            "otherwise": Field(str, default="reject", check=_one_of("reject", "rewrite")),
            "default": Field(text_or_number, check=_default_sender),
        },
        name="senders",
    )
    destinations = Schema(
        {
            "countries_allow": Field(ListOf(text_or_number, check=check_country), default=[]),
            "countries_block": Field(ListOf(text_or_number, check=check_country), default=[]),
            "require_valid": Field(bool, default=True),
        },
        name="destinations",
    )
    replies = Schema({"opt_out": Field(str, check=_reply_text), "opt_in": Field(str, check=_reply_text)}, name="replies")
    tenant = Schema(
        {
            "senders": Field(senders),
            "destinations": Field(destinations),
            "templates_only": Field(bool, default=False),
            "reject_status": Field(text_or_number, default=None, check=check_status),
            "templates": Field(MapOf(str), default={}),
            "replies": Field(replies),
        },
        name="tenant policy",
    )
    auto_replies = Schema(
        {
            "max_per_sender": Field(int, default=3, check=_positive),
            "window": Field(float, default=3600.0, check=_positive),
            "max_tracked_senders": Field(int, default=50_000, check=_positive),
            "own_addresses": Field(ListOf(text_or_number, check=_address), default=[]),
            "opt_out": Field(str, check=_reply_text),
            "opt_in": Field(str, check=_reply_text),
            "routes": Field(MapOf(str, check=_reply_text), default={}),
        },
        name="auto_replies",
    )
    return Schema(
        {
            "version": Field(int, default=1, check=_one_of(1)),
            "consent_status": Field(text_or_number, default=None, check=check_status),
            "block_list": Field(ListOf(text_or_number, check=_block_entry), default=[]),
            "defaults": Field(tenant),
            "tenants": Field(MapOf(tenant, check_key=tenant_name), default={}),
            "auto_replies": Field(auto_replies),
        },
        name="policy file",
    )


def _one_of(*choices: Any) -> Any:
    def check(value: Any) -> Any:
        if value in choices:
            return value
        raise Invalid(f"{value!r} is not one of {', '.join(map(repr, choices))}", hint=suggest(str(value), [str(c) for c in choices], "values"))

    return check


def load_policy(path: str | Path, known_tenants: Collection[str] | None = None) -> Policy:
    """Load and compile a policy file; raises ConfigErrors listing every problem."""
    doc = load_yaml(path)
    return _build(doc, str(path), known_tenants, _source_lines(path))


def load_policy_text(text: str, filename: str = "<string>", known_tenants: Collection[str] | None = None) -> Policy:
    """Same as `load_policy` for YAML text (tests, tools)."""
    return _build(load_yaml_text(text, filename), filename, known_tenants, text.splitlines())


def _source_lines(path: str | Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _build(doc: Any, filename: str, known_tenants: Collection[str] | None, lines: list[str]) -> Policy:
    errors: list[ConfigError] = []
    top = Mark(filename, 1, 1)
    raw = policy_schema(known_tenants).validate(doc if doc is not None else YamlMap(mark=top), errors, at=top)
    if raw is None or errors:
        raise ConfigErrors(errors or [top.error("policy file: nothing usable")])
    builder = _Builder(lines, errors)
    auto = raw["auto_replies"]
    defaults = builder.tenant("defaults", raw["defaults"]) if raw["defaults"] is not None else TenantPolicy("defaults")
    tenants = {name: builder.tenant(name, section) for name, section in raw["tenants"].items()}
    if errors:
        raise ConfigErrors(sorted(errors, key=lambda e: (e.file, e.line, e.column)))
    block_list = BlockList.from_entries(raw["block_list"])
    replies = [*builder.reply_templates, *builder.global_replies(auto)]
    by_route = {name: ReplyTemplate(name, text) for name, text in (auto["routes"] if auto else {}).items()}
    settings = AutoReplySettings.build(
        replies,
        max_per_sender=auto["max_per_sender"] if auto else 3,
        window=auto["window"] if auto else 3600.0,
        max_tracked_senders=auto["max_tracked_senders"] if auto else 50_000,
        own_addresses=frozenset(auto["own_addresses"] if auto else ()),
        by_route=by_route,
        opt_out=ReplyTemplate("opt_out", auto["opt_out"]) if auto and auto["opt_out"] else None,
        opt_in=ReplyTemplate("opt_in", auto["opt_in"]) if auto and auto["opt_in"] else None,
        block_list=block_list,
    )
    return Policy(
        source=filename,
        tenants=tenants,
        defaults=defaults,
        block_list=block_list,
        consent_status=raw["consent_status"] or DEFAULT_CONSENT_STATUS,
        auto_replies=settings,
    )


class _Builder:
    """Compiles validated sections, adding errors that need more than one value's view."""

    def __init__(self, lines: list[str], errors: list[ConfigError]) -> None:
        self.lines = lines
        self.errors = errors
        self.reply_templates: list[ReplyTemplate] = []

    def tenant(self, name: str, section: YamlMap) -> TenantPolicy:
        senders = self._senders(section["senders"]) if section["senders"] is not None else SenderRule()
        dests = section["destinations"]
        templates = self._templates(section["templates"])
        if section["templates_only"] and templates is None:
            self.errors.append(section.value_mark("templates_only").error(
                f"{name}: templates_only is true but no templates are given", hint="add `templates: {name: \"text\"}`"
            ))  # fmt: skip
        replies = {}
        if section["replies"] is not None:
            for key in ("opt_out", "opt_in"):
                if section["replies"][key]:
                    replies[key] = ReplyTemplate(key, section["replies"][key])
                    self.reply_templates.append(replies[key])
        return TenantPolicy(
            name=name,
            senders=senders,
            countries_allow=_countries(dests["countries_allow"]) if dests else Countries(),
            countries_block=_countries(dests["countries_block"]) if dests else Countries(),
            require_valid=dests["require_valid"] if dests else True,
            templates_only=section["templates_only"],
            templates=templates,
            reject_status=section["reject_status"] or DEFAULT_TEMPLATE_STATUS,
            replies=replies,
        )

    def _senders(self, section: YamlMap) -> SenderRule:
        allow = section["allow"]
        pattern = SenderPattern.compile([str(p) for p in allow]) if allow is not None else None
        if section["otherwise"] == "rewrite":
            if section["default"] is None:
                self.errors.append(section.value_mark("otherwise").error(
                    "otherwise: rewrite needs a default sender", hint='add `default: "ACME"`'
                ))  # fmt: skip
                return SenderRule(pattern)
            return SenderRule(pattern, sender_address(str(section["default"])))
        if section["default"] is not None:
            self.errors.append(section.key_mark("default").error(
                "default is only used with `otherwise: rewrite`", hint="remove it, or set otherwise: rewrite"
            ))  # fmt: skip
        return SenderRule(pattern)

    def _templates(self, section: YamlMap) -> TemplateSet | None:
        if not section:
            return None
        compiled = []
        for index, (name, text) in enumerate(section.items()):
            try:
                compiled.append(parse_template(str(name), text, index))
            except TemplateError as exc:
                at = self._offset_mark(section.value_mark(name), exc.offset)
                self.errors.append(at.error(f"template {name!r}: {exc.message}", exc.hint))
        return TemplateSet(compiled)

    def _offset_mark(self, start: Mark, offset: int) -> Mark:
        """Where character `offset` of a single-line scalar starting at `start` is written
        (one column further for a quoted scalar); the scalar's start if it spans lines."""
        if not 0 < start.line <= len(self.lines):
            return start
        line = self.lines[start.line - 1]
        first = line[start.column - 1 : start.column]
        shift = 1 if first in ("'", '"') else 0
        column = start.column + shift + offset
        return Mark(start.file, start.line, column) if column <= len(line) else start

    def global_replies(self, auto: YamlMap | None) -> list[ReplyTemplate]:
        if not auto:
            return []
        texts = [("opt_out", auto["opt_out"]), ("opt_in", auto["opt_in"]), *auto["routes"].items()]
        return [ReplyTemplate(name, text) for name, text in texts if text]


def _countries(values: list[tuple[str, str | int]]) -> Countries:
    return Countries(
        frozenset(v for kind, v in values if kind == "region"),  # type: ignore[misc]
        frozenset(v for kind, v in values if kind == "code"),  # type: ignore[misc]
    )
