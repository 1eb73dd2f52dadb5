"""A carrier connector: one carrier account, N binds, one queue, one rate, one policy.

The core pushes `SubmitJob`s in (`submit` waits when the bounded queue is full, `try_submit`
does not); the connector's links take them as their windows and the shared rate limiter allow,
and report back through the core's `CarrierSink` in batches. The connector is the single
owner of the retry policy so that every link treats a throttle, a timeout or a lost session
the same way:

- throttled (0x58) / queue full (0x14): the whole connector pauses and lowers its rate to
  what the carrier took (see `pacing`), and the job goes back to the front of the queue.
  Such refusals do not use up the job's attempts (the carrier did not take it), but
  MAX_THROTTLES of them do end it.
- timeout, session lost, ESME_RSYSERR/RX_T_APPN: the job goes back to the front, and is given
  up (GAVE_UP) once it was sent `max_attempts` times.
- permanent error statuses: REJECTED at once with the status.
- a job whose deadline (epoch seconds) passed: EXPIRED without being sent.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Literal

import attrs
import structlog
import trio

from smsswitch.carrier.api import CarrierSink, SubmitJob, SubmitOutcome, SubmitResult
from smsswitch.carrier.health import ConnectorCounters, ConnectorHealth
from smsswitch.carrier.jobqueue import JobQueue, QueueClosed
from smsswitch.carrier.link import CarrierLink
from smsswitch.carrier.pacing import Pacer
from smsswitch.config import ConnectorConfig
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.pdu import DataSm, DeliverSm

__all__ = ["Connector", "QueueClosed"]

log = structlog.get_logger("smsswitch.carrier")

#: Throttle refusals after which a job is given up anyway (a carrier that never lets it in).
MAX_THROTTLES = 100
#: How often jobs are checked for expiry while no link can send them.
SWEEP_INTERVAL = 1.0


@attrs.define(slots=True)
class _RetryInfo:
    throttles: int = 0
    status: int = 0
    detail: str = ""


class Connector:
    """One carrier account. Run `await connector.run()` in a nursery; `stop()` to end it."""

    def __init__(
        self,
        config: ConnectorConfig,
        sink: CarrierSink,
        *,
        clock: Callable[[], float] = trio.current_time,
        wall_clock: Callable[[], float] = time.time,
        queue_size: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.sink = sink
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.counters = ConnectorCounters()
        self.pacer = Pacer(config.max_tps)
        bind_types: tuple[Literal["transceiver", "transmitter", "receiver"], ...] = (
            ("transceiver",) if config.bind_mode == "transceiver" else ("transmitter", "receiver")
        )
        self.links = [
            CarrierLink(self, index, bind_type)
            for index in range(max(1, config.sessions))
            for bind_type in bind_types
        ]
        submitting = sum(1 for link in self.links if link.can_submit)
        self.queue = JobQueue(queue_size or max(1024, 8 * config.window * submitting))
        self.draining = False
        self.closing = False
        self._retry_info: dict[SubmitJob, _RetryInfo] = {}
        self._pending: list[SubmitResult] = []
        self._closing_event = trio.Event()
        self._finished = trio.Event()
        self._running = False
        self._run_scope: trio.CancelScope | None = None
        self._log = log.bind(connector=config.name)

    # ------------------------------------------------------------ public API

    async def run(self) -> None:
        """Keep every bind up and serve jobs until `stop()` (or until cancelled)."""
        if self._running:
            raise RuntimeError(f"connector {self.name} is already running")
        self._running = True
        self._log.info(
            "carrier.connector_start",
            host=self.config.host,
            port=self.config.port,
            links=len(self.links),
            window=self.config.window,
            max_tps=self.config.max_tps,
        )
        try:
            async with trio.open_nursery() as nursery:
                self._run_scope = nursery.cancel_scope
                for link in self.links:
                    nursery.start_soon(link.run)
                nursery.start_soon(self._sweep)
        finally:
            self._finished.set()

    async def submit(self, job: SubmitJob) -> None:
        """Queue `job`, waiting while the queue is full; raises QueueClosed once stopping."""
        await self.queue.put(job)

    def try_submit(self, job: SubmitJob) -> bool:
        """Queue `job` if there is room now; False when full or stopping."""
        return self.queue.try_put(job)

    def room(self) -> int:
        """New jobs that fit in the queue now, beside the room promised with `reserve`."""
        return self.queue.room()

    async def reserve(self, count: int) -> int:
        """Wait until `count` new jobs fit in the queue and promise the room (see
        `JobQueue.reserve`): the core holds a tenant here rather than journal messages that
        could only wait on disk. Returns the room promised, for `release`."""
        return await self.queue.reserve(count)

    def release(self, count: int) -> None:
        self.queue.release(count)

    async def stop(self, grace: float) -> list[SubmitJob]:
        """Stop taking jobs, let the windows drain for up to `grace` seconds, unbind, and
        return every job that has no final outcome: the queued ones (never sent, or sent and
        lost) and any still unanswered after the grace. Nothing is dropped: the caller keeps
        them (they stay QUEUED/SUBMITTED in the journal and are replayed)."""
        self.queue.close()
        self.draining = True
        self._wake_links()
        with trio.move_on_after(max(0.0, grace)):
            while any(link.inflight for link in self.links):
                await trio.sleep(0.01)
        self.closing = True
        self._closing_event.set()
        self._wake_links()
        if self._running:
            with trio.move_on_after(min(3.0, max(self.config.response_timeout, 0.1)) + 0.5):
                await self._finished.wait()
            if not self._finished.is_set() and self._run_scope is not None:
                self._run_scope.cancel()
                await self._finished.wait()
        leftover = self.queue.drain()
        for link in self.links:  # only if run() was cancelled before a link tore down
            leftover.extend(link.unsent)
            leftover.extend(link.inflight.values())
            link.unsent = []
            link.inflight = {}
        if self._pending:
            await self.report([])
        for job in leftover:
            self._retry_info.pop(job, None)
        self._log.info("carrier.connector_stopped", unsent=len(leftover))
        return leftover

    def health(self) -> ConnectorHealth:
        c = self.counters
        return ConnectorHealth(
            name=self.name,
            running=self._running and not self._finished.is_set(),
            sessions_configured=len(self.links),
            sessions_bound=sum(1 for link in self.links if link.bound),
            window_capacity=self.config.window * sum(1 for link in self.links if link.can_submit),
            window_in_use=sum(len(link.inflight) for link in self.links),
            queue_depth=len(self.queue),
            submits_sent=c.submits_sent,
            accepted=c.accepted,
            rejected=c.rejected,
            gave_up=c.gave_up,
            expired=c.expired,
            retries=c.retries,
            throttled=c.throttled,
            timeouts=c.timeouts,
            requeued_on_loss=c.requeued_on_loss,
            handed_back=c.handed_back,
            receipts=c.receipts,
            mo=c.mo,
            deliver_errors=c.deliver_errors,
            binds=c.binds,
            bind_failures=c.bind_failures,
            reconnects=c.reconnects,
            unexpected_responses=c.unexpected_responses,
            refused=c.refused,
            responses_by_status=dict(c.responses_by_status),
            latency_sum=c.latency.sum,
            latency_count=c.latency.count,
            latency_buckets=tuple(c.latency.snapshot()["buckets"]),
        )

    # ------------------------------------------------------------ used by the links

    def next_job(self) -> SubmitJob | None:
        """The next job worth sending; expired and exhausted ones are set aside as results
        (reported with the link's next `report`)."""
        queue = self.queue
        while True:
            job = queue.pop()
            if job is None:
                return None
            verdict = self._final_verdict(job, self.wall_clock())
            if verdict is None:
                return job
            self._pending.append(verdict)

    def retry(self, job: SubmitJob, status: int, detail: str, into: list[SubmitJob], *, throttle: bool = False) -> None:
        """Note why `job` failed transiently and add it to `into` for `requeue`."""
        info = self._retry_info.get(job)
        if info is None:
            info = self._retry_info[job] = _RetryInfo()
        info.status = status
        info.detail = detail
        if throttle:
            info.throttles += 1
        self.counters.retries += 1
        into.append(job)

    def set_aside(self, results: list[SubmitResult]) -> None:
        """Results a link read but could not report before it went down: reported with the
        next `report` (a link's next batch, the sweep, or stop)."""
        self._pending.extend(results)

    @property
    def has_pending_results(self) -> bool:
        return bool(self._pending)

    def requeue(self, jobs: list[SubmitJob]) -> None:
        self.queue.put_front(jobs)

    def requeue_lost(self, jobs: list[SubmitJob], reason: str) -> None:
        """A link died holding `jobs` (sent or about to be): retry them on any link."""
        retry: list[SubmitJob] = []
        for job in jobs:
            self.retry(job, 0, f"session lost: {reason}", retry)
        self.counters.requeued_on_loss += len(retry)
        self.queue.put_front(retry)
        self._wake_links()

    async def announce(self, jobs: list[SubmitJob]) -> None:
        """submits_sent before the jobs hit the wire: a record precedes every send."""
        try:
            await self.sink.submits_sent(self.name, list(jobs))
        except Exception as exc:
            self._log.exception("carrier.sink_error", call="submits_sent", error=repr(exc))

    async def report(self, results: list[SubmitResult]) -> None:
        """Final outcomes (plus any set aside by next_job) to the sink in one call."""
        if self._pending:
            results = self._pending + results
            self._pending = []
        if not results:
            return
        counters = self.counters
        retry_info = self._retry_info
        for result in results:
            retry_info.pop(result.job, None)
            outcome = result.outcome
            if outcome is SubmitOutcome.ACCEPTED:
                counters.accepted += 1
            elif outcome is SubmitOutcome.REJECTED:
                counters.rejected += 1
            elif outcome is SubmitOutcome.GAVE_UP:
                counters.gave_up += 1
            elif outcome is SubmitOutcome.EXPIRED:
                counters.expired += 1
        try:
            await self.sink.submit_results(self.name, results)
        except Exception as exc:
            self._log.exception(
                "carrier.sink_error", call="submit_results", results=len(results), error=repr(exc)
            )

    async def deliver(self, pdus: list[DeliverSm | DataSm]) -> list[int]:
        """Receipts and MO to the core; the statuses to answer them with. If the core fails,
        ask the carrier to retry later (ESME_RX_T_APPN) rather than lose or refuse them."""
        try:
            statuses = list(await self.sink.carrier_delivers(self.name, pdus))
        except Exception as exc:
            self._log.exception("carrier.sink_error", call="carrier_delivers", count=len(pdus), error=repr(exc))
            statuses = []
        if len(statuses) != len(pdus):
            self.counters.deliver_errors += len(pdus)
            return [int(CommandStatus.ESME_RX_T_APPN)] * len(pdus)
        return statuses

    def throttled(self) -> None:
        """The carrier said 0x58/0x14 (once per read batch): slow the whole connector."""
        pacer = self.pacer
        now = self.clock()
        if pacer.throttled(now):  # at most one line per throttle episode
            self._log.warning(
                "carrier.throttled",
                pause=round(pacer.paused_until - now, 3),
                streak=pacer.streak,
                new_rate=round(pacer.rate, 1),
            )

    async def sleep_unless_closing(self, seconds: float) -> None:
        with trio.move_on_after(seconds):
            await self._closing_event.wait()

    # ------------------------------------------------------------ internals

    def _final_verdict(self, job: SubmitJob, wall_now: float) -> SubmitResult | None:
        if job.deadline is not None and wall_now > job.deadline:
            return SubmitResult(job, SubmitOutcome.EXPIRED, 0, None, "deadline passed before sending")
        info = self._retry_info.get(job)
        if info is None:
            return None
        if job.attempts - info.throttles >= self.config.max_attempts:
            detail = f"{job.attempts} attempts, last: {info.detail}"
            return SubmitResult(job, SubmitOutcome.GAVE_UP, info.status, None, detail)
        if info.throttles >= MAX_THROTTLES:
            detail = f"throttled {info.throttles} times"
            return SubmitResult(job, SubmitOutcome.GAVE_UP, info.status, None, detail)
        return None

    async def _sweep(self) -> None:
        """While no link can send, still end jobs that expired or used up their attempts."""
        down_since: float | None = None
        while not self.closing:
            await self.sleep_unless_closing(SWEEP_INTERVAL)
            if self._pending and not self.closing:
                await self.report([])  # e.g. results set aside by a link that went down
            if self.closing or any(link.bound and link.can_submit for link in self.links):
                down_since = None
                continue
            now = self.clock()
            down_since = now if down_since is None else down_since
            if self.config.failover_after and now - down_since >= self.config.failover_after and len(self.queue):
                await self._hand_back(now - down_since)
                continue
            wall_now = self.wall_clock()
            verdicts: list[SubmitResult] = []

            def ended(job: SubmitJob) -> bool:
                verdict = self._final_verdict(job, wall_now)
                if verdict is not None:
                    verdicts.append(verdict)
                return verdict is not None

            if self.queue.remove_if(ended):
                await self.report(verdicts)

    async def _hand_back(self, down_for: float) -> None:
        """The carrier has been unreachable too long: give every queued job back to the core
        (UNAVAILABLE), which fails it over or keeps it on disk until we are up again."""
        jobs = self.queue.drain()
        self.counters.handed_back += len(jobs)
        self._log.warning("carrier.handed_back", jobs=len(jobs), down_for=round(down_for, 1))
        await self.report(
            [SubmitResult(job, SubmitOutcome.UNAVAILABLE, detail=f"{self.name} unreachable for {down_for:.0f} s")
             for job in jobs]
        )  # fmt: skip

    def _wake_links(self) -> None:
        for link in self.links:
            link.wake()
