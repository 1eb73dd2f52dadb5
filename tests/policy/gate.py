"""The policy in front of the real switch, as the core should call it (until it does).

`PolicyGate` is a TenantSink: the real tenant server hands it each batch, it runs
`Policy.check_mt` on every request (opt-outs read from the journal inside one read
transaction per batch), answers the refused ones with the verdict's status, applies sender
rewrites, and passes the rest to the real Switch. Everything else goes straight through.
"""

from __future__ import annotations

from typing import Any

from smsswitch.core.suppression import is_opted_out
from smsswitch.policy import Policy, Verdict
from smsswitch.server.api import BindInfo, SubmitAnswer, SubmitRequest


class PolicyGate:
    def __init__(self, switch: Any, policy: Policy) -> None:
        self.switch = switch
        self.policy = policy
        self.verdicts: list[Verdict] = []

    async def submit(self, bind: BindInfo, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        tenant = bind.tenant.name
        answers: list[SubmitAnswer | None] = [None] * len(requests)
        passed: list[int] = []
        journal = self.switch.journal
        with journal.read() as txn:
            def opted_out(t: str, subscriber: str) -> bool:
                return is_opted_out(journal.store, txn, t, subscriber)

            for i, request in enumerate(requests):
                verdict = self.policy.check_mt(tenant, request, None, opted_out)
                self.verdicts.append(verdict)
                if not verdict.allowed:
                    answers[i] = SubmitAnswer(verdict.status)
                    continue
                if verdict.rewrite is not None:
                    request.source = verdict.rewrite.source
                    request.source_ton, request.source_npi = verdict.rewrite.ton, verdict.rewrite.npi
                passed.append(i)
        if passed:
            results = await self.switch.submit(bind, [requests[i] for i in passed])
            for i, answer in zip(passed, results):
                answers[i] = answer
        return answers  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.switch, name)
