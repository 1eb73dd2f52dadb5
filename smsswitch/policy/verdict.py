"""What a policy check answers: an immutable verdict the core acts on and records."""

from __future__ import annotations

import attrs

from smsswitch.numbers import NumberInfo
from smsswitch.smpp.constants import CommandStatus

__all__ = ["OK", "REJECT", "REWRITE", "Verdict"]

OK = "ok"
REJECT = "reject"
REWRITE = "rewrite"


@attrs.frozen
class SenderAddress:
    """A source address ready for a submit: parsed once (when the policy loaded), with the
    TON/NPI it goes out with. Used for rewritten senders and auto-reply sources."""

    source: NumberInfo
    ton: int
    npi: int


@attrs.frozen
class Verdict:
    """outcome: "ok", "reject" (answer the tenant `status`) or "rewrite" (send, but from
    `rewrite.source`). check: which check decided a reject or rewrite ("sender",
    "destination", "country", "block_list", "opt_out", "template"), for metrics.
    template: the approved template the text matched, when the tenant has templates."""

    outcome: str
    status: CommandStatus = CommandStatus.ESME_ROK
    reason: str = ""
    check: str = ""
    template: str | None = None
    rewrite: SenderAddress | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome != REJECT

    def describe(self) -> str:
        """One line for humans: `ok`, `reject ESME_RINVSRCADR: sender ... `, `rewrite ...`."""
        parts = [self.outcome]
        if self.outcome == REJECT:
            parts.append(f"{self.status.name} (0x{int(self.status):02X}) [{self.check}]: {self.reason}")
        elif self.rewrite is not None:
            parts.append(f"sender -> {self.rewrite.source.raw!r} [{self.check}]: {self.reason}")
        if self.template is not None:
            parts.append(f"template={self.template}")
        return " ".join(parts)


#: The verdict of a tenant with nothing to check: shared, no allocation per message.
PASS = Verdict(OK)
