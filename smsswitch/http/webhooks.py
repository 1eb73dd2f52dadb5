"""Webhook delivery: the core's WEBHOOK outbox entries POSTed to each tenant's endpoint.

One scanner task pages each tenant's due entries out of the journal (oldest first, only as
many as that tenant's lane has room for) and settles the answers: one commit per pass for
all of them. Each tenant has its own lane — a small bounded queue, a fixed pool of sender
tasks and its own HTTP connection pool — so a slow or dead endpoint only ever fills its own
lane; other tenants keep flowing. No task per message.

Every attempt is one journal update: 2xx removes the entry (AckOutbox); a retryable failure
(timeout, connection error, 408, 429, 5xx) counts the attempt and sets the next one after a
jittered exponential backoff, honouring Retry-After (RescheduleOutbox); a permanent failure
(other 4xx, redirects), or the tenant's max_attempts reached, moves it to the dead letters
with the last answer as the reason (DeadLetterOutbox), from where `smsswitch journal redrive`
sends it again. Nothing leaves the outbox without a 2xx or a dead letter. Attempt counts and
due times live in the journal, so a restart continues the schedule.

Wiring: the core's Switch runs `run()`, calls `kick()` when it owes a tenant something and
reports `counts` — set `switch.webhooks = dispatcher` before `switch.run` (and do not also
pass a WebhookSender).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import structlog
import trio

from smsswitch.config import TenantConfig
from smsswitch.http.callbacks import CallbackStore
from smsswitch.http.events import event_from_entry, event_type_of
from smsswitch.http.retry import Outcome, RetryPolicy, outcome_of_status
from smsswitch.http.signing import HEADER as SIGNATURE_HEADER
from smsswitch.http.signing import signature
from smsswitch.journal import keys
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import AckOutbox, DeadLetterOutbox, RescheduleOutbox
from smsswitch.journal.records import OutboxEntry, OutboxKind, decode_outbox
from smsswitch.journal.store import iter_keys

log = structlog.get_logger("smsswitch.http")

USER_AGENT = "smsswitch-webhooks/1"
#: Index entries examined per tenant per pass at most.
MAX_EXAMINE = 2000
#: Response bytes read at most (the body is not used; reading a little keeps the connection).
MAX_RESPONSE_BYTES = 65536

ClientFactory = Callable[[TenantConfig, int], httpx.AsyncClient]


def default_client(tenant: TenantConfig, concurrency: int) -> httpx.AsyncClient:
    """A tenant's own connection pool: at most `concurrency` connections, no redirects, no
    proxy settings from the environment (receivers are reached directly)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False,
                             headers={"User-Agent": USER_AGENT})  # fmt: skip


class _Lane:
    """One tenant's bounded queue, sender tasks and HTTP client."""

    def __init__(self, tenant: TenantConfig, client: httpx.AsyncClient, capacity: int) -> None:
        self.tenant = tenant
        self.client = client
        self.capacity = capacity
        self.send, self.receive = trio.open_memory_channel[OutboxEntry](capacity)
        self.sending = 0

    def room(self) -> int:
        return self.capacity - self.send.statistics().current_buffer_used - self.sending


class WebhookDispatcher:
    def __init__(
        self,
        journal: Journal,
        tenants: Mapping[str, TenantConfig],
        *,
        callbacks: CallbackStore | None = None,
        concurrency: int = 4,
        policy: RetryPolicy = RetryPolicy(),
        client_factory: ClientFactory = default_client,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        idle_pass: float = 0.5,
    ) -> None:
        self.journal = journal
        self.tenants: Mapping[str, TenantConfig] = dict(tenants)
        self.callbacks = callbacks
        self.concurrency = max(1, concurrency)
        self.policy = policy
        self.client_factory = client_factory
        self.clock = clock
        self.rng = rng or random.Random()
        self.idle_pass = idle_pass
        self.counts = {"sent": 0, "retried": 0, "dead": 0, "filtered": 0}
        self._lanes: dict[str, _Lane] = {}
        self._busy: set[str] = set()  # queued, being sent, or answered but not settled
        self._results: list[tuple[OutboxEntry, Outcome, TenantConfig]] = []
        self._cursor: dict[str, bytes | None] = {}
        self._wake = trio.Event()
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ control

    def kick(self) -> None:
        """Something may be owed (the core calls this after committing new entries)."""
        self._wake.set()

    def set_tenants(self, tenants: Mapping[str, TenantConfig]) -> None:
        """Config reload: new URLs, secrets and limits apply from the next attempt."""
        self.tenants = dict(tenants)
        for name, lane in self._lanes.items():
            if name in self.tenants:
                lane.tenant = self.tenants[name]
        self.kick()

    def depth(self) -> dict[str, int]:
        return {"busy": len(self._busy), "lanes": len(self._lanes)}

    # ------------------------------------------------------------------ the scanner

    async def run(self) -> None:
        """Until cancelled: pass over the tenants on every kick, at least every idle_pass."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                while True:
                    with trio.move_on_after(self.idle_pass):
                        await self._wake.wait()
                    self._wake = trio.Event()
                    await self.settle()
                    self.fill()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                for lane in self._lanes.values():
                    await lane.client.aclose()
                self._lanes.clear()

    def fill(self) -> None:
        now = self.clock()
        for name, tenant in self.tenants.items():
            if tenant.webhook is None:
                continue
            lane = self._lane(tenant)
            room = lane.room()
            if room <= 0:
                continue
            for entry in self._page(name, room, now):
                self._busy.add(entry.id)
                lane.send.send_nowait(entry)

    def _lane(self, tenant: TenantConfig) -> _Lane:
        lane = self._lanes.get(tenant.name)
        if lane is None:
            assert self._nursery is not None, "run() starts the lanes"
            lane = _Lane(tenant, self.client_factory(tenant, self.concurrency), 2 * self.concurrency)
            self._lanes[tenant.name] = lane
            for _ in range(self.concurrency):
                self._nursery.start_soon(self._sender, lane)
        return lane

    def _page(self, name: str, room: int, now: float) -> list[OutboxEntry]:
        """Up to `room` due webhook entries of `name` not already busy, continuing after the
        last one taken and wrapping to the oldest once (retries falling due)."""
        out: list[OutboxEntry] = []
        taken: set[bytes] = set()
        store = self.journal.store
        prefix = keys.tenant_prefix(name)
        after = self._cursor.get(name)
        examined = 0
        with self.journal.read() as txn:
            for lap in range(2):
                for key in iter_keys(txn, store.outbox_by_tenant, prefix, after=after):
                    examined += 1
                    after = key
                    entry_id = key[len(prefix) :]
                    if entry_id not in taken and entry_id.decode() not in self._busy:
                        raw = txn.get(entry_id, db=store.outbox)
                        if raw is not None:
                            entry = decode_outbox(raw)
                            if entry.kind is OutboxKind.WEBHOOK and entry.next_attempt <= now:
                                out.append(entry)
                                taken.add(entry_id)
                    if len(out) >= room or examined >= MAX_EXAMINE:
                        self._cursor[name] = after
                        return out
                if lap == 0 and self._cursor.get(name) is None:
                    break  # started at the oldest: seen everything
                after = None
        self._cursor[name] = None
        return out

    # ------------------------------------------------------------------ settling

    async def settle(self) -> None:
        """One commit for every answer gathered since the last pass."""
        if not self._results:
            return
        results, self._results = self._results, []
        now = self.clock()
        ops: list[Any] = []
        dead: dict[str, int] = {}
        for entry, outcome, tenant in results:
            op = self._op(entry, outcome, tenant, now)
            if op is not None:
                ops.append(op)
            if isinstance(op, DeadLetterOutbox):
                dead[tenant.name] = dead.get(tenant.name, 0) + 1
        for name, count in dead.items():  # one line per tenant and pass, not per event
            log.info("webhook.dead_lettered", tenant=name, count=count)
        try:
            if ops:
                await self.journal.commit(ops)
        except JournalError as exc:
            # Nothing settled: the entries are simply sent again later (at-least-once).
            log.warning("webhook.settle_failed", error=str(exc), count=len(ops))
        finally:
            for entry, _, _ in results:
                self._busy.discard(entry.id)

    def _op(self, entry: OutboxEntry, outcome: Outcome, tenant: TenantConfig, now: float) -> Any:
        if outcome.verdict == "ok":
            self.counts["filtered" if outcome.detail == "filtered" else "sent"] += 1
            return AckOutbox(entry.id)
        if outcome.verdict == "skip":
            return None
        failures = entry.attempts + 1
        max_attempts = tenant.webhook.max_attempts if tenant.webhook else 1
        if outcome.verdict == "retry" and failures < max_attempts:
            self.counts["retried"] += 1
            delay = self.policy.delay(failures, outcome.retry_after, self.rng)
            log.debug("webhook.retry", tenant=tenant.name, entry=entry.id, attempt=failures, detail=outcome.detail,
                      delay=round(delay, 3))  # fmt: skip
            return RescheduleOutbox(entry.id, now + delay)
        self.counts["dead"] += 1
        if outcome.verdict == "retry":
            reason = f"webhook: gave up after {failures} attempts; last: {outcome.detail}"
        else:
            reason = f"webhook: refused ({outcome.detail}) on attempt {failures}"
        log.debug("webhook.dead_letter", tenant=tenant.name, entry=entry.id, reason=reason)
        return DeadLetterOutbox(entry.id, reason, now)

    # ------------------------------------------------------------------ sending

    async def _sender(self, lane: _Lane) -> None:
        async for entry in lane.receive:
            lane.sending += 1
            try:
                outcome = await self.attempt(lane.tenant, lane.client, entry)
            except Exception as exc:  # a bug here must not stop the lane
                log.warning("webhook.attempt_failed", tenant=lane.tenant.name, error=repr(exc))
                outcome = Outcome("retry", f"internal error: {type(exc).__name__}")
            finally:
                lane.sending -= 1
            self._results.append((entry, outcome, lane.tenant))
            self.kick()

    async def attempt(self, tenant: TenantConfig, client: httpx.AsyncClient, entry: OutboxEntry) -> Outcome:
        """One POST of one entry; never raises for what the receiver or network does."""
        hook = tenant.webhook
        if hook is None:
            return Outcome("skip", "no webhook configured")
        event_type = event_type_of(entry)
        if event_type not in hook.events:
            return Outcome("ok", "filtered")
        event = event_from_entry(entry, self.journal.get)
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        url = hook.url
        if self.callbacks is not None and event_type == "receipt" and event["messageId"]:
            url = self.callbacks.get(event["messageId"]) or url
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": entry.id,
            "X-Smsswitch-Event-Id": entry.id,
            "X-Smsswitch-Event": event_type,
            "X-Smsswitch-Attempt": str(entry.attempts + 1),
        }
        if hook.secret:
            headers[SIGNATURE_HEADER] = signature(hook.secret, int(self.clock()), body)
        try:
            with trio.fail_after(hook.timeout + 1.0):
                request = client.build_request("POST", url, content=body, headers=headers, timeout=hook.timeout)
                response = await client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read > MAX_RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except (trio.TooSlowError, httpx.TimeoutException):
            return Outcome("retry", f"timeout after {hook.timeout:g}s")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return Outcome("permanent", f"bad URL: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Outcome("retry", f"connection error: {type(exc).__name__}")
        return outcome_of_status(response.status_code, response.headers.get("retry-after"), self.clock())
