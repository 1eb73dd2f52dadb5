"""Automatic answers to MO (a STOP confirmation, a keyword acknowledgment) as ordinary MT.

For an MO that routing gave to a tenant, the policy names the reply text (the tenant's or
the file's opt-out/opt-in confirmation, or the MO rule's reply) and the AutoReplier decides
whether it may go (loop protection: rate per sender, never to short codes or alphanumeric
senders, never in answer to one of our own replies). A reply that may go becomes that
tenant's MT: routed with `route_mt`, journalled in the same commit as the MO it answers,
then handed to the feeder like any accepted MT, so it is queued, submitted, retried and
receipted by the carrier as usual.

The MT policy (`check_mt`) is deliberately not run on replies: the confirmation of a STOP
must reach the subscriber the STOP just suppressed, and the reply's text and sender are the
operator's own configuration.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timezone

import structlog

from smsswitch.core.feeder import Feeder
from smsswitch.core.jobs import reply_record
from smsswitch.core.stats import SwitchStats
from smsswitch.journal.ops import PutMessage
from smsswitch.journal.records import MessageRecord
from smsswitch.numbers import NumberInfo
from smsswitch.policy import AutoReplier, Policy, Reply
from smsswitch.routing.decisions import MoDecision
from smsswitch.routing.table import RouteTable

log = structlog.get_logger("smsswitch.core")

#: A reply waiting for its commit: the record and its failover connectors.
Pending = tuple[MessageRecord, tuple[str, ...]]


class AutoReplies:
    def __init__(
        self,
        feeder: Feeder,
        new_id: Callable[[], str],
        stats: SwitchStats,
        policy: Callable[[], Policy | None],
        replier: AutoReplier,
        rng: random.Random,
    ) -> None:
        self.feeder = feeder
        self.new_id = new_id
        self.stats = stats
        self.policy = policy
        self.replier = replier
        self.rng = rng

    def answer(
        self, decision: MoDecision, sender: NumberInfo, mo_to: str, text: str, table: RouteTable, now: float,
        ops: list, pending: list[Pending],
    ) -> None:  # fmt: skip
        """If the MO routed by `decision` earns a reply, add its journal op to `ops` (the
        MO's batch) and the record to `pending` (for `hand_over` after the commit)."""
        policy = self.policy()
        tenant = decision.tenant
        if policy is None or not tenant:
            return
        template = policy.reply_template(tenant, decision.rule, decision.opt)
        if template is None:
            return  # nothing configured: not a suppressed reply, just none
        out = self.replier.decide(sender, mo_to, template, False, now, tenant=tenant, keyword=decision.keyword, mo_text=text)
        if not isinstance(out, Reply):
            self.stats.autoreplies["suppressed"] += 1  # the replier counts and logs the reason
            return
        data_coding, payload = out.encoded()
        when = datetime.fromtimestamp(now, timezone.utc)
        route = table.route_mt(out.tenant, out.destination, out.source.source.raw, data_coding, when, self.rng.random())
        connector, failover = self.feeder.choose(route.connectors) if route.routed else (None, ())
        if connector is None:
            self.stats.autoreplies["unroutable"] += 1
            log.warning("autoreply.unroutable", tenant=out.tenant, template=out.template, rule=route.rule,
                        reason=route.reason or "no configured connector")  # fmt: skip
            return
        record = reply_record(self.new_id(), out, data_coding, payload, route.rule, connector, now)
        ops.append(PutMessage(record))
        pending.append((record, failover))

    def claim(self, pending: list[Pending]) -> list[str]:
        """Keep the refill pass off these records while their commit is in flight."""
        ids = [record.id for record, _ in pending]
        self.feeder.claimed.update(ids)
        return ids

    def release(self, ids: list[str], *, landed: bool) -> None:
        """The commit failed (`landed` False: the replies are gone with the MO) or was
        interrupted (`landed` True: it may still land, and the refill pass hands them over)."""
        self.feeder.claimed.difference_update(ids)
        if landed:
            self.feeder.kick()

    def hand_over(self, pending: list[Pending]) -> None:
        """After the commit: to the connectors, as on accept."""
        self.feeder.claimed.difference_update(record.id for record, _ in pending)
        offer = self.feeder.offer
        for record, failover in pending:
            offer(record, failover)
        self.stats.autoreplies["sent"] += len(pending)
