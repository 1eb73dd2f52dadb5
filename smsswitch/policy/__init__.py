"""Message policy: what tenants may send (senders, destinations, templates, consent) and the
automatic answers to MO, without loops. A layer beside routing: imports smpp, numbers,
yamlconf and routing's value checks; never server, carrier, core or daemon.

    policy = load_policy("config/policy.yaml", known_tenants={"demo", "acme"})
    verdict = policy.check_mt("acme", request, text=None, is_suppressed=opted_out)  # Verdict
    template = policy.reply_template(mo.tenant, mo.rule, mo.opt)                     # ReplyTemplate | None
    outcome = replier.decide(sender, to, template, False, now, tenant=..., keyword=..., mo_text=text)

Policy file format (every list may also be a single value; all keys optional)::

    version: 1
    consent_status: ESME_RX_R_APPN      # for block-listed and opted-out recipients (default)
    block_list: ["+263770000000", "+26377000*"]   # operator-managed, all tenants
    defaults: {...}                     # a tenant section for tenants not listed (default: only
                                        # require_valid and the consent checks)
    tenants:
      acme:
        senders: {allow: ["ACME", "ACME*", "+4477009*"], otherwise: reject}
                 # or {allow: [...], otherwise: rewrite, default: "ACME"}; no allow = any sender
        destinations: {countries_allow: [GB, ZW, 263], countries_block: [], require_valid: true}
        templates_only: true            # every MT must match a template
        reject_status: ESME_RINVMSGLEN  # for a text matching no template (default)
        templates:                      # first match in this order wins; its name is recorded
          otp: "Your code is {code:digits(4-8)}. It expires in {minutes:digits(1-2)} minutes."
          hello: "Hello {name:text(1-30)}"        # kinds: digits, alnum, text; (n) or (n-m)
        replies: {opt_out: "...", opt_in: "..."}  # this tenant's STOP/START confirmations
    auto_replies:
      max_per_sender: 3                 # replies to one sender within `window` seconds
      window: 3600
      max_tracked_senders: 50000        # bound of the per-sender counters
      own_addresses: ["60682", "+263771000000"]   # an MO from these is never answered
      opt_out: "You will get no more messages from {tenant}. Reply START to resume."
      opt_in: "Messages from {tenant} resume. Reply STOP to stop."
      routes: {demo-keyword: "Thanks, {tenant} got your {keyword}."}  # by MO route name
"""

from smsswitch.policy.autoreply import AutoReplier, AutoReplySettings, Reply, ReplyTemplate, Suppressed
from smsswitch.policy.consent import BlockList, InMemorySuppression, SuppressionCheck, subscriber_key
from smsswitch.policy.loader import load_policy, load_policy_text
from smsswitch.policy.message import MtMessage, mt_text
from smsswitch.policy.policy import Policy, TenantPolicy
from smsswitch.policy.templates import Template, TemplateSet, parse_template
from smsswitch.policy.verdict import OK, REJECT, REWRITE, SenderAddress, Verdict

__all__ = [
    "OK",
    "REJECT",
    "REWRITE",
    "AutoReplier",
    "AutoReplySettings",
    "BlockList",
    "InMemorySuppression",
    "MtMessage",
    "Policy",
    "Reply",
    "ReplyTemplate",
    "SenderAddress",
    "SuppressionCheck",
    "Suppressed",
    "Template",
    "TemplateSet",
    "TenantPolicy",
    "Verdict",
    "load_policy",
    "load_policy_text",
    "mt_text",
    "parse_template",
    "subscriber_key",
]
