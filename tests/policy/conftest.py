"""Helpers: MT requests as the server hands them over (numbers parsed, payload encoded)."""

from __future__ import annotations

import attrs

from smsswitch.numbers import NumberInfo, parse_number
from smsswitch.policy import Policy, load_policy_text
from smsswitch.smpp.concat import build_concat_udh
from smsswitch.smpp.constants import ESM_CLASS_UDHI
from smsswitch.smpp.text import choose_encoding, encode_text

TENANTS = {"demo", "acme", "beta"}

POLICY = """\
consent_status: ESME_RX_R_APPN
block_list: ["+263770000000", "+26377999*"]
tenants:
  demo:
    destinations: {require_valid: true}
  acme:
    senders: {allow: ["ACME", "ACME*", "+4477009*"], otherwise: reject}
    destinations: {countries_allow: [GB, ZW], countries_block: [], require_valid: true}
    templates_only: true
    reject_status: ESME_RINVMSGLEN
    templates:
      otp: "Your code is {code:digits(4-8)}. It expires in {minutes:digits(1-2)} minutes."
      hello: "Hello {name:text(1-30)}"
      ref: "Ref {ref:alnum(6)} confirmed"
  beta:
    senders: {allow: ["BETA"], otherwise: rewrite, default: "BETA"}
    destinations: {countries_block: [FR, 1]}
    reject_status: ESME_RSYSERR
    templates:
      promo: "Sale: {pct:digits(1-2)}% off"
auto_replies:
  max_per_sender: 3
  window: 3600
  own_addresses: ["60682"]
  opt_out: "You will get no more messages from {tenant}. Reply START to resume."
  routes: {demo-keyword: "Thanks! {tenant} got your {keyword}."}
"""


def load(text: str = POLICY, tenants: set[str] | None = TENANTS) -> Policy:
    return load_policy_text(text, "policy.yaml", tenants)


def number(raw: str, region: str | None = "GB") -> NumberInfo:
    ton = 5 if not raw.lstrip("+").isdigit() else 0
    return parse_number(raw, ton, 1, region)


@attrs.define
class Request:
    """The fields check_mt reads, as smsswitch.server.api.SubmitRequest carries them."""

    source: NumberInfo
    destination: NumberInfo
    data_coding: int
    payload: bytes
    esm_class: int = 0
    part: tuple[int, int, int] | None = None


def mt(sender: str, to: str, text: str = "hello", data_coding: int | None = None, *, region: str | None = "GB") -> Request:
    coding = choose_encoding(text) if data_coding is None else data_coding
    return Request(number(sender, region), number(to, region), coding, encode_text(text, coding))


def part(sender: str, to: str, text: str, sequence: int, total: int = 2) -> Request:
    """One part of a concatenated message, UDH in front."""
    request = mt(sender, to, text)
    request.payload = build_concat_udh(7, total, sequence) + request.payload
    request.esm_class = ESM_CLASS_UDHI
    request.part = (7, total, sequence)
    return request


UK_MOBILE = "+447400123456"
ZW_MOBILE = "+263771234567"
OTP = "Your code is 123456. It expires in 5 minutes."
