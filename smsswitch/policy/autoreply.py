"""Automatic answers to MO (a STOP confirmation, a keyword acknowledgment) without loops.

Two auto-responders answering each other never stop by themselves, and each turn costs a
carrier submit. So before any reply `AutoReplier.decide` refuses, with a counted and logged
reason, when:

- the sender is alphanumeric or a short code (services, not people: they cannot answer, or
  answer automatically) or not a valid number;
- the MO was itself an auto-reply: the core says so (`mo_is_auto_reply`), or its text is one
  of our own reply texts, or it comes from one of our own reply addresses (configured
  `own_addresses`, plus every address we have answered from);
- the sender is on the operator's block list;
- the sender already had `max_per_sender` replies within the last `window` seconds.

Memory is bounded: per-sender reply times live in an LRU of at most `max_tracked_senders`
entries (each holds at most `max_per_sender` times). When it is full of senders still
inside their window, new senders get no reply ("tracker_full") rather than a forgotten
limit: under a flood we fail closed, never into a loop.

Settings come from the policy file and can be swapped on reload (`update`); the counters
survive the swap.
"""

from __future__ import annotations

import re
import string
from collections import Counter, OrderedDict
from collections.abc import Mapping

import attrs
import structlog

from smsswitch.numbers import ALPHANUMERIC, SHORTCODE, NumberInfo
from smsswitch.policy.consent import BlockList
from smsswitch.policy.senders import sender_address
from smsswitch.policy.templates import normalize_text
from smsswitch.policy.verdict import SenderAddress
from smsswitch.routing.match import normalize_address
from smsswitch.smpp.text import choose_encoding, encode_text

__all__ = ["AutoReplier", "AutoReplySettings", "Reply", "ReplyTemplate", "Suppressed", "REPLY_FIELDS"]

log = structlog.get_logger("smsswitch.policy")

#: The fields a reply text may use: `{tenant}`, `{keyword}` (the MO's first word, normalised).
REPLY_FIELDS = ("tenant", "keyword")
#: How many of our own reply addresses we remember beyond the configured ones.
LEARNED_ADDRESSES = 1024


@attrs.frozen
class ReplyTemplate:
    """A reply text with `{tenant}`/`{keyword}` fields; `name` is what metrics and the
    message record call it ("opt_out", "opt_in", or the MO route's name)."""

    name: str
    text: str

    def render(self, tenant: str, keyword: str) -> str:
        return self.text.format(tenant=tenant, keyword=keyword)

    def fields(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.text) if field is not None]

    def recogniser(self) -> str:
        """A regex (source) for texts this template renders to, whatever the fields held."""
        parts = []
        for literal, field, _, _ in string.Formatter().parse(normalize_text(self.text)):
            parts.append(re.escape(literal))
            if field is not None:
                parts.append(".{0,160}?")
        return "".join(parts)


@attrs.frozen
class AutoReplySettings:
    max_per_sender: int = 3
    window: float = 3600.0
    max_tracked_senders: int = 50_000
    own_addresses: frozenset[str] = frozenset()  # normalised digits / short codes
    by_route: Mapping[str, ReplyTemplate] = attrs.field(factory=dict)
    opt_out: ReplyTemplate | None = None
    opt_in: ReplyTemplate | None = None
    block_list: BlockList = BlockList()
    # Our reply texts as one regex: an MO that reads like one of them is our own reply back.
    recogniser: re.Pattern[str] | None = None

    @classmethod
    def build(cls, templates: list[ReplyTemplate], **kwargs: object) -> AutoReplySettings:
        """Settings with the recogniser compiled from every reply text in the policy."""
        sources = sorted({t.recogniser() for t in templates})
        recogniser = re.compile("|".join(f"(?:{s})" for s in sources), re.DOTALL) if sources else None
        return cls(recogniser=recogniser, **kwargs)  # type: ignore[arg-type]


@attrs.frozen
class Reply:
    """An auto-reply to send through the normal MT path (journalled, routed, receipted) as
    `tenant`'s message: from `source` (the address the MO was sent to), to `destination`."""

    tenant: str
    template: str
    source: SenderAddress
    destination: NumberInfo
    text: str

    def encoded(self) -> tuple[int, bytes]:
        """(data_coding, payload): GSM 03.38 when the text fits it, else UCS2."""
        data_coding = choose_encoding(self.text)
        return data_coding, encode_text(self.text, data_coding)


@attrs.frozen
class Suppressed:
    """No reply, and why (a key of `AutoReplier.stats()["suppressed"]`)."""

    reason: str


# Reasons, as counted and logged.
NOT_CONFIGURED = "not_configured"
ALPHANUMERIC_SENDER = "alphanumeric_sender"
SHORTCODE_SENDER = "shortcode_sender"
INVALID_SENDER = "invalid_sender"
AUTO_REPLY_IN = "auto_reply_in"
OWN_ADDRESS = "own_address"
BLOCKED = "blocked"
RATE_LIMITED = "rate_limited"
TRACKER_FULL = "tracker_full"


class _Sent:
    """Reply times to one sender within the window (oldest first), at most max_per_sender."""

    __slots__ = ("times", "warned")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.warned = False


class AutoReplier:
    """Decides each auto-reply; holds the bounded per-sender counters (not thread-safe: one
    trio task, the core's inbound path, calls it)."""

    def __init__(self, settings: AutoReplySettings | None = None) -> None:
        self.settings = settings or AutoReplySettings()
        self._sent: OrderedDict[str, _Sent] = OrderedDict()
        self._learned: OrderedDict[str, None] = OrderedDict()
        self._suppressed: Counter[str] = Counter()
        self._replies = 0

    def update(self, settings: AutoReplySettings) -> None:
        """New settings (a policy reload); counters are kept, trimmed to the new bound."""
        self.settings = settings
        while len(self._sent) > settings.max_tracked_senders:
            self._sent.popitem(last=False)

    # ------------------------------------------------------------------ the decision

    def decide(
        self,
        mo_sender: NumberInfo,
        mo_to: str,
        template: ReplyTemplate | None,
        mo_is_auto_reply: bool,
        now: float,
        *,
        tenant: str = "",
        keyword: str = "",
        mo_text: str | None = None,
    ) -> Reply | Suppressed:
        """Reply to the MO from `mo_sender` to our address `mo_to` with `template`, or say
        why not. `mo_text`, when given, is checked against our own reply texts."""
        reason = self._refusal(mo_sender, template, mo_is_auto_reply, mo_text)
        if reason is None:
            reason = self._count(mo_sender.e164, now)  # type: ignore[arg-type]
        if reason is not None:
            return self._suppress(reason, tenant, mo_sender)
        assert template is not None
        self._learn(mo_to)
        self._replies += 1
        return Reply(tenant, template.name, sender_address(mo_to), mo_sender, template.render(tenant, keyword))

    def _refusal(self, sender: NumberInfo, template: ReplyTemplate | None, is_auto: bool, text: str | None) -> str | None:
        if template is None:
            return NOT_CONFIGURED
        if sender.kind == ALPHANUMERIC:
            return ALPHANUMERIC_SENDER
        if sender.kind == SHORTCODE:
            return SHORTCODE_SENDER
        if sender.e164 is None or not sender.is_valid:
            return INVALID_SENDER
        if is_auto or self.looks_like_auto_reply(text):
            return AUTO_REPLY_IN
        digits = sender.e164[1:]
        if digits in self.settings.own_addresses or digits in self._learned:
            return OWN_ADDRESS
        if self.settings.block_list and self.settings.block_list.blocks(sender):
            return BLOCKED
        return None

    def looks_like_auto_reply(self, text: str | None) -> bool:
        """True if `text` reads like one of our own reply texts."""
        recogniser = self.settings.recogniser
        if not text or recogniser is None:
            return False
        return recogniser.fullmatch(normalize_text(text)) is not None

    def _count(self, key: str, now: float) -> str | None:
        """Record a reply to `key` at `now`, or the reason it may not have one."""
        settings = self.settings
        horizon = now - settings.window
        sent = self._sent.get(key)
        if sent is not None:
            self._sent.move_to_end(key)
            times = sent.times
            while times and times[0] <= horizon:
                del times[0]
            if len(times) >= settings.max_per_sender:
                return RATE_LIMITED
            sent.warned = False
        else:
            if len(self._sent) >= settings.max_tracked_senders and not self._evict_one(horizon):
                return TRACKER_FULL
            sent = self._sent[key] = _Sent()
        sent.times.append(now)
        return None

    def _evict_one(self, horizon: float) -> bool:
        """Drop the least recently touched sender if its window has passed."""
        oldest_key, oldest = next(iter(self._sent.items()))
        if oldest.times and oldest.times[-1] > horizon:
            return False
        del self._sent[oldest_key]
        return True

    def _learn(self, mo_to: str) -> None:
        address = normalize_address(mo_to)
        if address in self.settings.own_addresses:
            return
        self._learned[address] = None
        self._learned.move_to_end(address)
        if len(self._learned) > LEARNED_ADDRESSES:
            self._learned.popitem(last=False)

    def _suppress(self, reason: str, tenant: str, sender: NumberInfo) -> Suppressed:
        self._suppressed[reason] += 1
        if reason == NOT_CONFIGURED:
            return Suppressed(reason)
        loud = True
        if reason == RATE_LIMITED:
            # One INFO line per sender per window; the repeats go to DEBUG (and the counter).
            sent = self._sent[sender.e164]  # type: ignore[index]
            loud, sent.warned = not sent.warned, True
        # `sender` is one of the keys smsswitch.logs masks (unless the operator unmasks).
        (log.info if loud else log.debug)("autoreply.suppressed", reason=reason, tenant=tenant, sender=sender.e164 or sender.raw)
        return Suppressed(reason)

    # ------------------------------------------------------------------ observability

    def stats(self) -> dict[str, object]:
        """{"sent": n, "tracked_senders": n, "suppressed": {reason: n}}."""
        return {
            "sent": self._replies,
            "tracked_senders": len(self._sent),
            "suppressed": dict(self._suppressed),
        }

    def __len__(self) -> int:
        return len(self._sent)

