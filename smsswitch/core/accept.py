"""Accepting a batch of tenant submits: route, journal in one commit, hand to connectors.

Order matters: everything that can refuse a message (message policy, opt-out, route,
back-pressure) runs before the journal sees it, so a refused message leaves no trace; the
accepted ones of a batch are written in ONE commit and only then answered ESME_ROK and
handed over.

Message policy (smsswitch.policy, when the daemon config names a policy file) runs first,
per message, on the numbers the server already parsed: senders (reject or rewrite),
destination validity and countries, the block list, opt-outs (read from the journal for the
whole batch, as without a policy, and given to the policy so its order and consent status
apply), templates. The matched template's name goes on the record and into the stats.

Back-pressure choice: a full connector queue does not refuse the tenant. The message stays
QUEUED in the journal (the journal is the real queue, durable and cheap) and the feeder's
refill pass hands it over later, which absorbs bursts. Only when that on-disk backlog
passes `max_backlog` (a carrier down for long) are new submits refused with ESME_RMSGQFUL,
so disk use stays bounded and tenants hear to slow down instead of piling up messages that
cannot leave.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timezone

import structlog

from smsswitch.core.feeder import Feeder
from smsswitch.core.jobs import new_record
from smsswitch.core.stats import SwitchStats
from smsswitch.core.suppression import is_opted_out, subscriber_key
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import PutMessage
from smsswitch.journal.records import MessageRecord
from smsswitch.policy import OK, REJECT, Policy, SuppressionCheck
from smsswitch.routing.table import RouteTable
from smsswitch.server.api import BindInfo, SubmitAnswer, SubmitRequest
from smsswitch.smpp.constants import CommandStatus

log = structlog.get_logger("smsswitch.core")

#: The answer to an MT for a subscriber who opted out of this tenant (STOP): "the
#: receiving side rejects it, permanently" - do not retry.
OPTED_OUT_STATUS = CommandStatus.ESME_RX_R_APPN
#: A route names connectors none of which is configured (a config mistake, not the tenant's).
NO_CONNECTOR_STATUS = CommandStatus.ESME_RSUBMITFAIL


class Acceptor:
    def __init__(
        self,
        journal: Journal,
        feeder: Feeder,
        routes: Callable[[], RouteTable],
        stats: SwitchStats,
        opt_outs_exist: Callable[[], bool],
        *,
        policy: Callable[[], Policy | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_backlog: int = 100_000,
    ) -> None:
        self.journal = journal
        self.feeder = feeder
        self.routes = routes
        self.stats = stats
        self.opt_outs_exist = opt_outs_exist
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        self.max_backlog = max_backlog

    async def submit(self, bind: BindInfo, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        started = time.perf_counter()
        tenant = bind.tenant.name
        count = self.stats.submits
        if self.feeder.blocked and self.feeder.backlog() >= self.max_backlog:
            self.stats.refused_backlog += len(requests)
            count[(tenant, int(CommandStatus.ESME_RMSGQFUL))] += len(requests)
            return [SubmitAnswer(CommandStatus.ESME_RMSGQFUL) for _ in requests]
        now = self.clock()
        when = datetime.fromtimestamp(now, timezone.utc)
        table = self.routes()
        draw = self.rng.random
        new_id = self.journal.new_id
        choose = self.feeder.choose
        answers: list[SubmitAnswer | None] = [None] * len(requests)
        accepted: list[tuple[int, MessageRecord, tuple[str, ...]]] = []
        opted_out = self._opted_out(tenant, requests) if self.opt_outs_exist() else None
        policy = self.policy()
        suppressed = None
        if policy is not None:
            suppressed = _batch_opt_outs(requests, opted_out)
            opted_out = None  # the policy asks `suppressed`, in its own order of checks
        stats = self.stats
        template = None
        for i, request in enumerate(requests):
            if policy is not None:
                verdict = policy.check_mt(tenant, request, None, suppressed)
                if verdict.outcome != OK:
                    if verdict.outcome == REJECT:
                        answers[i] = SubmitAnswer(verdict.status)
                        stats.policy_rejections[(tenant, verdict.check)] += 1
                        log.debug("mt.refused_by_policy", tenant=tenant, check=verdict.check, reason=verdict.reason)
                        continue
                    rewrite = verdict.rewrite
                    if rewrite is not None:
                        request.source, request.source_ton, request.source_npi = rewrite.source, rewrite.ton, rewrite.npi
                        stats.policy_rewrites[tenant] += 1
                template = verdict.template
                if template is not None:
                    stats.templates_matched[(tenant, template)] += 1
            elif opted_out is not None and opted_out[i]:
                answers[i] = SubmitAnswer(OPTED_OUT_STATUS)
                continue
            dest = request.destination
            decision = table.route_mt(tenant, dest, request.source.raw, request.data_coding, when, draw())
            if not decision.routed:
                answers[i] = SubmitAnswer(decision.status)
                log.debug("mt.refused", tenant=tenant, rule=decision.rule, reason=decision.reason, to=dest.raw)
                continue
            connector, failover = choose(decision.connectors)
            if connector is None:
                answers[i] = SubmitAnswer(NO_CONNECTOR_STATUS)
                log.warning("mt.no_connector", tenant=tenant, rule=decision.rule, connectors=decision.connectors)
                continue
            record = new_record(new_id(), bind, request, decision.rule, connector, now, template)
            accepted.append((i, record, failover))
        if accepted:
            await self._journal(accepted, answers)
        for answer in answers:
            count[(tenant, answer.status)] += 1  # type: ignore[union-attr]
        self.stats.accept_latency.observe(time.perf_counter() - started)
        return answers  # type: ignore[return-value]

    async def _journal(
        self, accepted: list[tuple[int, MessageRecord, tuple[str, ...]]], answers: list[SubmitAnswer | None]
    ) -> None:
        claimed = self.feeder.claimed
        ids = [record.id for _, record, _ in accepted]
        claimed.update(ids)
        try:
            await self.journal.try_commit([PutMessage(record) for _, record, _ in accepted])
        except JournalError as exc:
            claimed.difference_update(ids)
            self.stats.journal_errors += 1
            log.warning("mt.not_journalled", count=len(accepted), error=str(exc), status=exc.smpp_status.name)
            for i, _, _ in accepted:
                answers[i] = SubmitAnswer(exc.smpp_status)
            return
        except BaseException:
            # Cancelled while the commit is in flight: it still lands; the refill pass
            # (which no longer sees these ids claimed) hands the messages over.
            claimed.difference_update(ids)
            self.feeder.kick()
            raise
        claimed.difference_update(ids)
        offer = self.feeder.offer
        for i, record, failover in accepted:
            answers[i] = SubmitAnswer(CommandStatus.ESME_ROK, record.id)
            offer(record, failover)

    def _opted_out(self, tenant: str, requests: list[SubmitRequest]) -> list[bool]:
        """Per request: did its destination opt out of `tenant` (one read transaction)."""
        store = self.journal.store
        with self.journal.read() as txn:
            return [is_opted_out(store, txn, tenant, subscriber_key(r.destination)) for r in requests]


def _batch_opt_outs(requests: list[SubmitRequest], opted_out: list[bool] | None) -> SuppressionCheck | None:
    """The batch's opt-outs (already read from the journal) as the policy's SuppressionCheck;
    None when nobody in the batch opted out (the policy then skips the check)."""
    if not opted_out or not any(opted_out):
        return None
    keys = {subscriber_key(r.destination) for r, out in zip(requests, opted_out) if out}
    return lambda _tenant, subscriber: subscriber in keys
