"""The compiled policy: per-tenant MT checks between "accepted from a tenant" and "routed".

Immutable, like RouteTable: a reload builds a new Policy and the core swaps its reference.
`check_mt` runs the checks cheapest first and answers at the first reject; a sender
rewrite does not stop the later checks (a rewritten message can still be refused).

Statuses: sender not allowed → ESME_RINVSRCADR; destination not a valid number, or its
country blocked / not allowed → ESME_RINVDSTADR; operator block list or opted out →
`consent_status` (default ESME_RX_R_APPN, the status the core already gives opted-out
subscribers: "the receiving side refuses, permanently"); template mismatch → the tenant's
`reject_status` (default ESME_RINVMSGLEN, "message not acceptable as written").

Concatenated parts: a template needs the whole text, and one part of a long message is not
it. So for a templates-only tenant each part (UDH or sar_* TLVs) is refused with the
template status, saying to send the whole text in one submit in message_payload (the switch
passes message_payload on to carriers). Tenants with templates that are not templates-only
get no template name on parts. The other checks apply to parts as to any message.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import attrs

from smsswitch.numbers import SHORTCODE, NumberInfo
from smsswitch.policy.autoreply import AutoReplySettings, ReplyTemplate
from smsswitch.policy.consent import BlockList, SuppressionCheck, subscriber_key
from smsswitch.policy.message import MtMessage, mt_text
from smsswitch.policy.senders import SenderRule
from smsswitch.policy.templates import TemplateSet
from smsswitch.policy.verdict import OK, PASS, REJECT, REWRITE, Verdict
from smsswitch.smpp.constants import CommandStatus

__all__ = ["DEFAULT_CONSENT_STATUS", "DEFAULT_TEMPLATE_STATUS", "Countries", "Policy", "TenantPolicy"]

S = CommandStatus
#: Opted out or on the block list: the status the core already gives opted-out subscribers.
DEFAULT_CONSENT_STATUS = S.ESME_RX_R_APPN
#: A templates-only tenant's text matches no template.
DEFAULT_TEMPLATE_STATUS = S.ESME_RINVMSGLEN


@attrs.frozen
class Countries:
    """ISO regions and calling codes; `contains` asks about a destination."""

    regions: frozenset[str] = frozenset()
    codes: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.regions or self.codes)

    def contains(self, number: NumberInfo) -> bool:
        return number.region in self.regions or number.country_code in self.codes

    def describe(self) -> str:
        return ", ".join([*sorted(self.regions), *(f"+{c}" for c in sorted(self.codes))])


@attrs.frozen
class TenantPolicy:
    name: str
    senders: SenderRule = SenderRule()
    countries_allow: Countries = Countries()
    countries_block: Countries = Countries()
    require_valid: bool = True
    templates_only: bool = False
    templates: TemplateSet | None = None
    reject_status: CommandStatus = DEFAULT_TEMPLATE_STATUS
    replies: Mapping[str, ReplyTemplate] = attrs.field(factory=dict)  # "opt_out"/"opt_in"


@attrs.frozen(eq=False)
class Policy:
    source: str
    tenants: Mapping[str, TenantPolicy]
    defaults: TenantPolicy
    block_list: BlockList = BlockList()
    consent_status: CommandStatus = DEFAULT_CONSENT_STATUS
    auto_replies: AutoReplySettings = AutoReplySettings()

    def tenant(self, name: str) -> TenantPolicy:
        """The tenant's policy, or `defaults:` for tenants the file does not name."""
        return self.tenants.get(name) or self.defaults

    # ------------------------------------------------------------------ MT

    def check_mt(
        self, tenant: str, request: MtMessage, text: str | None = None, is_suppressed: SuppressionCheck | None = None
    ) -> Verdict:
        """The verdict for one MT of `tenant`. `text` is the decoded text if the caller has
        it (else decoded here, only when a template needs it). `is_suppressed(tenant,
        subscriber)` says whether the destination opted out; None skips that check (when the
        caller checked opt-outs itself)."""
        rules = self.tenants.get(tenant) or self.defaults
        rewrite = None
        source = request.source
        if rules.senders.allow is not None and not rules.senders.allows(source):
            if rules.senders.rewrite is None:
                return Verdict(REJECT, S.ESME_RINVSRCADR, f"sender {source.raw.strip()!r} is not allowed for {tenant}", "sender")
            rewrite = rules.senders.rewrite
        dest = request.destination
        refusal = self._destination(rules, dest)
        if refusal is not None:
            return refusal
        if self.block_list and self.block_list.blocks(dest):
            return Verdict(REJECT, self.consent_status, "recipient is on the operator block list", "block_list")
        if is_suppressed is not None and is_suppressed(tenant, subscriber_key(dest)):
            return Verdict(REJECT, self.consent_status, f"recipient opted out of {tenant}", "opt_out")
        template = None
        if rules.templates is not None:
            verdict = self._template(rules, request, text)
            if verdict.outcome == REJECT:
                return verdict
            template = verdict.template
        if rewrite is not None:
            reason = f"sender {source.raw.strip()!r} is not allowed for {tenant}; sent as {rewrite.source.raw!r}"
            return Verdict(REWRITE, S.ESME_ROK, reason, "sender", template, rewrite)
        return PASS if template is None else _matched(template)

    @staticmethod
    def _destination(rules: TenantPolicy, dest: NumberInfo) -> Verdict | None:
        if dest.kind == SHORTCODE:
            return None  # no country and no validity data: routing decides about short codes
        if rules.require_valid and not dest.is_valid:
            if dest.e164 is None:
                reason = "destination is not a phone number"
            elif not dest.is_possible:
                reason = f"destination has the wrong length for +{dest.country_code}"
            else:
                reason = f"destination is in a range not assigned in +{dest.country_code} ({dest.region or 'no region'})"
            return Verdict(REJECT, S.ESME_RINVDSTADR, reason, "destination")
        if rules.countries_block and rules.countries_block.contains(dest):
            return Verdict(REJECT, S.ESME_RINVDSTADR, f"destination country {dest.region or dest.country_code} is blocked for {rules.name}", "country")
        if rules.countries_allow and not rules.countries_allow.contains(dest):
            where = dest.region or (f"+{dest.country_code}" if dest.country_code else "unknown")
            return Verdict(
                REJECT, S.ESME_RINVDSTADR,
                f"destination country {where} is not allowed for {rules.name} (allowed: {rules.countries_allow.describe()})",
                "country",
            )  # fmt: skip
        return None

    @staticmethod
    def _template(rules: TenantPolicy, request: MtMessage, text: str | None) -> Verdict:
        """Verdict(OK, template=name-or-None) or the reject for a templates-only tenant."""
        assert rules.templates is not None
        if request.part is not None:
            if not rules.templates_only:
                return PASS
            _, total, sequence = request.part
            return Verdict(
                REJECT, rules.reject_status,
                f"part {sequence}/{total} of a concatenated message: templates are checked on whole texts "
                "(send it in one submit, in message_payload)",
                "template",
            )  # fmt: skip
        if text is None:
            text = mt_text(request)
        name = None if text is None else rules.templates.match_name(text)
        if name is not None:
            return _matched(name)
        if not rules.templates_only:
            return PASS
        if text is None:
            reason = f"binary message (data_coding 0x{request.data_coding:02X}) cannot match a template"
        else:
            reason = f"text matches none of {rules.name}'s {len(rules.templates)} approved template(s)"
        return Verdict(REJECT, rules.reject_status, reason, "template")

    # ------------------------------------------------------------------ MO auto-replies

    def reply_template(self, tenant: str | None, rule: str | None, opt: str | None) -> ReplyTemplate | None:
        """The auto-reply for an MO that routing sent to `tenant` by MO rule `rule`, with
        `opt` "out"/"in" when it was STOP/START: the tenant's own confirmation, else the
        file's; for other MO, the reply configured for the rule. None: no reply."""
        if opt is not None:
            key = "opt_out" if opt == "out" else "opt_in"
            own = self.tenant(tenant).replies.get(key) if tenant else None
            return own or (self.auto_replies.opt_out if opt == "out" else self.auto_replies.opt_in)
        if rule is None:
            return None
        return self.auto_replies.by_route.get(rule)


@lru_cache(maxsize=4096)
def _matched(template: str) -> Verdict:
    """The shared "ok, matched `template`" verdict (a frozen attrs instance costs ~1 µs)."""
    return Verdict(OK, template=template)
