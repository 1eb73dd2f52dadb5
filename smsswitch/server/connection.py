"""One tenant connection: the trio tasks that drive a sans-IO SMPP session over a stream.

Four tasks per connection, none per message:
- reader: one read → every PDU in it → validated, throttled work items in one batch;
- submitter: one `TenantSink.submit` call for all the batches queued meanwhile → every
  response → one write;
- timer: bind timeout, the session's timers (enquire_link, idle, deliver_sm timeouts);
- outlet sender (receiver/transceiver binds): deliver_sm while the window has room.

Back-pressure: requests count against the tenant's `window` from the moment they go to the
submitter until they are answered; at the window the reader stops reading the socket, so
memory is bounded by the window plus one read. Errors of this connection end this
connection only (`_guarded`); nothing escapes to the listener.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import structlog
import trio

from smsswitch.config import ServerConfig
from smsswitch.ratelimit import RateLimiter
from smsswitch.server.api import BindInfo, OutboundDelivery, SubmitAnswer, SubmitRequest, TenantSink
from smsswitch.server.auth import FailedBindTracker, authenticate
from smsswitch.server.outlet import DELIVERY_TIMED_OUT, SessionOutlet
from smsswitch.server.registry import BindRegistry, make_limiter
from smsswitch.server.stats import ServerStats, status_name
from smsswitch.server.tenants import TenantEntry
from smsswitch.server.validate import (
    MultiPlan,
    ReplacePlan,
    validate_data_sm,
    validate_replace_sm,
    validate_submit_multi,
    validate_submit_sm,
)
from smsswitch.smpp.constants import SMPP_VERSION_34, CommandId, CommandStatus, Tag
from smsswitch.smpp.errors import PduEncodeError
from smsswitch.smpp.events import (
    BindRequested,
    Closed,
    EnquireLinkDue,
    EnquireLinkOverdue,
    Event,
    IdleTimeout,
    ProtocolFatal,
    Refused,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnbindRequested,
    Unbound,
)
from smsswitch.smpp.pdu import (
    CancelSm,
    CancelSmResp,
    DataSmResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSmResp,
    SubmitMultiResp,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)
from smsswitch.smpp.session import LocalProtocolError, Role, Session, SessionState
from smsswitch.streams import acquire_eagerly, offer_to_kernel

__all__ = ["ConnectionContext", "TenantConnection"]

log = structlog.get_logger("smsswitch.server")

S = CommandStatus
C = CommandId
READ_SIZE = 65536
#: Batches handed to the submitter but not yet taken (each also counts against the window).
_BATCH_QUEUE = 4
#: A receiving bind that answers no deliver_sm for this many deliver_timeouts, while they
#: time out, is unbound and closed (a stuck application behind a live socket).
STUCK_AFTER = 4
#: How long closing the stream may take (TLS close_notify) before we drop it.
_CLOSE_TIMEOUT = 1.0

_BIND_TYPES = {
    int(C.BIND_TRANSMITTER): "transmitter",
    int(C.BIND_RECEIVER): "receiver",
    int(C.BIND_TRANSCEIVER): "transceiver",
}
_RECEIVING = frozenset({"receiver", "transceiver"})
_SUBMIT_LIKE = frozenset(
    int(c) for c in (C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM)
)
_DELIVER_SM = int(C.DELIVER_SM)
_ROK = int(S.ESME_ROK)
#: The `requests` of work the core does not see (shared: never mutated).
_NO_REQUESTS: list[SubmitRequest] = []


@attrs.define(eq=False)
class ConnectionContext:
    """What every connection of one server shares."""

    config: ServerConfig
    registry: BindRegistry
    sink: TenantSink
    failures: FailedBindTracker
    hash_limiter: trio.CapacityLimiter
    stats: ServerStats
    system_id: str = "smsswitch"
    wall_clock: Callable[[], float] = time.time


class _Work:
    """One tenant request on its way through the submitter, answered in arrival order.

    kind: refuse (answer `status` now), submit, data, multi, query, cancel, replace.
    `weight` is what it counts against the window (requests the core will see).
    A plain slotted class: one is built per PDU, and attrs' factory default costs more.
    """

    __slots__ = ("request", "kind", "status", "requests", "multi", "replace", "weight")

    def __init__(
        self,
        request: Pdu,
        kind: str,
        status: int = 0,
        requests: list[SubmitRequest] | None = None,
        multi: MultiPlan | None = None,
        replace: ReplacePlan | None = None,
        weight: int = 0,
    ) -> None:
        self.request = request
        self.kind = kind
        self.status = status
        self.requests = _NO_REQUESTS if requests is None else requests
        self.multi = multi
        self.replace = replace
        self.weight = weight


class _Batch:
    __slots__ = ("items", "weight")

    def __init__(self) -> None:
        self.items: list[_Work] = []
        self.weight = 0


class TenantConnection:
    """An accepted SMPP connection, from TCP accept to close; `run()` never raises."""

    def __init__(self, stream: trio.abc.Stream, peer_host: str, peer_port: int, ctx: ConnectionContext) -> None:
        config = ctx.config
        self.stream = stream
        self.peer_host = peer_host
        self.peer_port = peer_port
        self.ctx = ctx
        self.session = Session(
            Role.SMSC,
            max_command_length=config.max_command_length,
            window=1,
            response_timeout=config.response_timeout,
            enquire_link_interval=config.enquire_link_interval or None,
            idle_timeout=config.idle_timeout or None,
        )
        # Set by a successful bind.
        self.bind: BindInfo | None = None
        self.entry: TenantEntry | None = None
        self.system_id = ""
        self.bind_type = ""
        self.outlet: SessionOutlet | None = None
        self._bind_limiter: RateLimiter | None = None
        self._tenant_limiter: RateLimiter | None = None
        self._window = 1
        # Back-pressure bookkeeping.
        self._outstanding = 0
        self._batches_pending = 0
        self._room = trio.Event()
        self._batch_in, self._batch_out = trio.open_memory_channel[list[_Work]](_BATCH_QUEUE)
        # Task coordination.
        self._send_lock = trio.Lock()
        self._timer_wakeup = trio.Event()
        self._timer_deadline = -math.inf  # what the timer loop waits for (-inf: it is not waiting)
        self._unbound = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._draining = False
        # True while back-pressure keeps the reader from reading: the peer is not idle then,
        # we are the bottleneck, so keepalive and idle timers must not blame it.
        self._reader_blocked = False
        self._reason = ""
        self._write_cut = False
        # When this bind last answered a deliver_sm (set when its outlet opens): a bind whose
        # deliver_sm time out with not one answered meanwhile has a stuck application behind
        # a live socket (enquire_link may still be answered by its library).
        self._last_deliver_answer = math.inf
        self._deliveries_stuck = False
        self._bind_deadline = trio.current_time() + config.bind_timeout
        self._log = log.bind(peer=f"{peer_host}:{peer_port}")
        self.done = trio.Event()

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._guarded, self._timer_loop)
                nursery.start_soon(self._guarded, self._submit_loop)
                await self._guarded(self._read_loop)
                nursery.cancel_scope.cancel()
        finally:
            self._end_reason("closed")
            with trio.CancelScope(shield=True):
                await self._cleanup()
            self.done.set()

    async def _guarded(self, task: Callable[[], Awaitable[None]]) -> None:
        """Run one of this connection's tasks; any failure ends this connection only."""
        try:
            await task()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._end("connection_lost")
        except Exception:
            self._log.exception("connection_error", tenant=self.system_id, bind_id=self._bind_id)
            self._end("internal_error")

    def _end(self, reason: str) -> None:
        if not self._reason:
            self._reason = reason
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def begin_shutdown(self) -> None:
        """Server shutdown: finish what the core holds, unbind politely, close."""
        if self._nursery is None or self._draining or self._reason:
            return
        try:
            self._nursery.start_soon(self._guarded, self._graceful_unbind)
        except RuntimeError:  # the connection is already closing
            pass

    @property
    def _bind_id(self) -> str | None:
        return self.bind.bind_id if self.bind is not None else None

    async def _cleanup(self) -> None:
        ctx = self.ctx
        self.session.close()
        if self.bind is not None:
            ctx.registry.remove(self)
        unanswered: list[OutboundDelivery] = []
        if self.outlet is not None:
            unanswered = self.outlet.close()
            try:
                ctx.sink.outlet_down(self.outlet, unanswered)
            except Exception:
                self._log.exception("outlet_down_failed", tenant=self.system_id, bind_id=self._bind_id)
        with trio.move_on_after(_CLOSE_TIMEOUT):
            try:
                # What the session still holds (the generic_nack of a fatal framing error, an
                # unbind_resp) goes out even if another task ended the connection first.
                data = self.session.data_to_send()
                if data and not self._write_cut:
                    await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            try:
                await self.stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        if self.bind is not None:
            self._log.info(
                "unbind", tenant=self.system_id, bind_id=self._bind_id, bind_type=self.bind_type,
                reason=self._reason or "closed", unanswered_deliveries=len(unanswered),
            )
        else:
            self._log.debug("connection_closed", reason=self._reason or "closed")

    async def _flush(self) -> None:
        """Write everything the session has queued, in one send. A peer that has not read
        for response_timeout is dead: the connection ends rather than wait forever."""
        if not self.session.has_data_to_send:
            return  # most calls (after a read, a timer tick) have nothing: no lock, no checkpoint
        lock = self._send_lock
        await acquire_eagerly(lock)
        try:
            data = self.session.data_to_send()
            if not data:
                return
            # Stays True if this send is cut short (cancelled, timed out, failed): the stream
            # may then hold part of a PDU and must not get another one (see _cleanup).
            self._write_cut = True
            rest = offer_to_kernel(self.stream, data)
            if rest:  # the peer is slow to read (or TLS): wait, but not forever
                with trio.move_on_after(max(self.ctx.config.response_timeout, 1.0)) as scope:
                    await self.stream.send_all(rest)
                if scope.cancelled_caught:
                    self._end("write_timeout")
                    return
            self._write_cut = False
        finally:
            lock.release()

    # ------------------------------------------------------------ reader

    async def _read_loop(self) -> None:
        session = self.session
        while True:
            if self._outstanding and self._outstanding >= self._window:
                await self._wait_for_room(1)
            data = await self.stream.receive_some(READ_SIZE)
            events = session.receive_data(data, trio.current_time())
            if events:
                await self._handle_events(events)
            await self._flush()
            if session.state is SessionState.CLOSED:
                self._end("closed")
                return

    async def _handle_events(self, events: list[Event]) -> None:
        batch = _Batch()
        answers: list[tuple[str, int]] = []
        wall = self.ctx.wall_clock()
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                # Per PDU, no coroutine: only a window overflow needs to await.
                work = self._on_request(event.pdu, wall)  # type: ignore[attr-defined]
                if work is None:
                    continue
                weight = work.weight
                if weight and (self._outstanding or batch.weight) and (
                    self._outstanding + batch.weight + weight > self._window
                ):
                    await self._make_room(batch, weight)
                batch.items.append(work)
                batch.weight += weight
            elif kind is ResponseReceived:
                self._on_response(event, answers)  # type: ignore[arg-type]
            elif kind is Refused:
                self.ctx.stats.pdu_refusals[status_name(event.status)] += 1  # type: ignore[attr-defined]
                self._log.debug("pdu_refused", tenant=self.system_id, bind_id=self._bind_id,
                                command_id=event.command_id, status=event.status)  # type: ignore[attr-defined]
            elif kind is BindRequested:
                await self._on_bind(event.pdu)  # type: ignore[attr-defined]
            elif kind is UnbindRequested:
                await self._dispatch(batch)
                await self._wait_pipeline_empty()
                self.session.send_response(event.pdu, UnbindResp())  # type: ignore[attr-defined]
                self._end_reason("unbind_requested")
            elif kind is Unbound:
                self._unbound.set()
                self._end_reason("unbound")
            elif kind is Closed:
                self._end_reason("peer_closed")
            elif kind is ProtocolFatal:
                self.ctx.stats.protocol_errors += 1
                self._log.warning("protocol_error", tenant=self.system_id, bind_id=self._bind_id,
                                  reason=event.reason)  # type: ignore[attr-defined]
                self._end_reason("protocol_error")
        await self._dispatch(batch)
        if answers:
            await self._report_deliveries(answers)

    def _end_reason(self, reason: str) -> None:
        if not self._reason:
            self._reason = reason

    def _on_request(self, pdu: Pdu, wall: float) -> _Work | None:
        """The work item for one request (None: answered here already)."""
        command_id = pdu.command_id
        if command_id not in _SUBMIT_LIKE:
            # The state table only lets submit-like requests through once bound; anything
            # else reaching here is a request we do not serve.
            self.session.send_response(pdu, GenericNack(command_status=S.ESME_RINVCMDID))
            return None
        entry = self.entry
        assert entry is not None  # submit-like requests are legal only when bound
        if self._draining:
            work = _Work(pdu, "refuse", S.ESME_RTHROTTLED)
        elif command_id == C.SUBMIT_SM:
            work = self._one_request(pdu, "submit", validate_submit_sm, entry, wall)
        elif command_id == C.DATA_SM:
            work = self._one_request(pdu, "data", validate_data_sm, entry, wall)
        elif command_id == C.SUBMIT_MULTI:
            work = self._multi(pdu, entry, wall)
        elif command_id == C.REPLACE_SM:
            plan = validate_replace_sm(pdu, wall)  # type: ignore[arg-type]
            work = _Work(pdu, "refuse", plan) if isinstance(plan, int) else _Work(pdu, "replace", replace=plan, weight=1)
        elif command_id == C.QUERY_SM:
            work = _Work(pdu, "query", weight=1)
        else:
            work = _Work(pdu, "cancel", weight=1)
        return work

    def _throttled(self, n: int) -> bool:
        now = trio.current_time()
        assert self._bind_limiter is not None and self._tenant_limiter is not None
        return not (self._bind_limiter.try_acquire(now, n) and self._tenant_limiter.try_acquire(now, n))

    def _one_request(self, pdu: Pdu, kind: str, validate: Any, entry: TenantEntry, wall: float) -> _Work:
        if self._throttled(1):
            return _Work(pdu, "refuse", S.ESME_RTHROTTLED)
        result = validate(pdu, entry, wall)
        if isinstance(result, int):
            return _Work(pdu, "refuse", result)
        return _Work(pdu, kind, requests=[result], weight=1)

    def _multi(self, pdu: Any, entry: TenantEntry, wall: float) -> _Work:
        if self._throttled(max(1, len(pdu.dest_address))):
            return _Work(pdu, "refuse", S.ESME_RTHROTTLED)
        plan = validate_submit_multi(pdu, entry, wall)
        if isinstance(plan, int):
            return _Work(pdu, "refuse", plan)
        return _Work(pdu, "multi", requests=plan.requests, multi=plan, weight=len(plan.requests))

    async def _make_room(self, batch: _Batch, weight: int) -> None:
        """The next item would overflow the window: send the batch first and wait for room
        (the reader stops here, so the socket is not read meanwhile)."""
        await self._dispatch(batch)
        await self._wait_for_room(weight)

    async def _dispatch(self, batch: _Batch) -> None:
        if not batch.items:
            return
        items, weight = batch.items, batch.weight
        batch.items, batch.weight = [], 0
        self._outstanding += weight
        self._batches_pending += 1
        if self._outstanding > self.ctx.stats.max_outstanding:
            self.ctx.stats.max_outstanding = self._outstanding
        try:
            # Room in the queue (the usual case): no checkpoint here, the next read yields.
            self._batch_in.send_nowait(items)
        except trio.WouldBlock:
            self._reader_blocked = True
            try:
                await self._batch_in.send(items)
            finally:
                self._reader_blocked = False

    async def _wait_for_room(self, weight: int) -> None:
        if self._outstanding and self._outstanding + weight > self._window:
            await self._flush()  # let responses the session queued go out while we wait
            self._reader_blocked = True
            try:
                while self._outstanding and self._outstanding + weight > self._window:
                    await self._room.wait()
            finally:
                self._reader_blocked = False

    async def _wait_pipeline_empty(self) -> None:
        while self._batches_pending:
            await self._room.wait()

    def _on_response(self, event: ResponseReceived, answers: list[tuple[str, int]]) -> None:
        if event.request.command_id != _DELIVER_SM or self.outlet is None:
            return  # enquire_link_resp: the session already noted the activity
        self._last_deliver_answer = trio.current_time()
        delivery = self.outlet.settle(event.request.sequence_number)
        if delivery is not None:
            status = event.response.command_status
            answers.append((delivery.entry_id, status))
            self.ctx.stats.deliveries["answered_ok" if status == S.ESME_ROK else "answered_error"] += 1

    async def _report_deliveries(self, answers: list[tuple[str, int]]) -> None:
        assert self.bind is not None
        try:
            await self.ctx.sink.deliveries_answered(self.bind, answers)
        except Exception:
            self._log.exception("deliveries_answered_failed", tenant=self.system_id, bind_id=self._bind_id)

    # ------------------------------------------------------------ bind

    async def _on_bind(self, pdu: Any) -> None:
        ctx = self.ctx
        bind_type = _BIND_TYPES[pdu.command_id]
        decision = await authenticate(
            system_id=pdu.system_id,
            password=pdu.password,
            bind_type=bind_type,
            peer_host=self.peer_host,
            directory=ctx.registry.directory,
            failures=ctx.failures,
            binds_of=ctx.registry.count,
            hash_limiter=ctx.hash_limiter,
        )
        response_class = pdu.response_class
        if not decision.ok:
            ctx.failures.record_failure(self.peer_host, trio.current_time())
            ctx.stats.refusals[decision.reason] += 1
            self._log.info("bind_refused", tenant=pdu.system_id, bind_type=bind_type,
                           reason=decision.reason, status=status_name(decision.status))
            await trio.sleep(ctx.config.failed_bind_delay)
            self.session.send_response(pdu, response_class(command_status=decision.status))
            return
        entry = decision.tenant
        assert entry is not None
        self.system_id = entry.config.system_id
        self.bind_type = bind_type
        self.bind = BindInfo(ctx.registry.next_bind_id(), entry.config, bind_type, self.peer_host, self.peer_port)
        ctx.registry.add(self)  # no await since authenticate's max_binds check
        self.apply_tenant(entry)
        tlvs = {Tag.SC_INTERFACE_VERSION: SMPP_VERSION_34} if pdu.interface_version >= SMPP_VERSION_34 else {}
        self.session.send_response(pdu, response_class(system_id=ctx.system_id, tlvs=tlvs))
        await self._flush()
        self._timer_wakeup.set()  # bound: keepalive deadlines replace the bind deadline
        self._log.info("bind", tenant=self.system_id, bind_id=self._bind_id, bind_type=bind_type)
        if bind_type in _RECEIVING:
            self.outlet = SessionOutlet(self.bind, capacity=2 * self._window)
            self._last_deliver_answer = trio.current_time()
            assert self._nursery is not None
            self._nursery.start_soon(self._guarded, self._outlet_loop)
            try:
                ctx.sink.outlet_up(self.outlet)
            except Exception:
                self._log.exception("outlet_up_failed", tenant=self.system_id, bind_id=self._bind_id)

    def apply_tenant(self, entry: TenantEntry) -> None:
        """Take a tenant's (possibly reloaded) limits: rates, window, deliver timeout."""
        config = entry.config
        self.entry = entry
        if self.bind is not None:
            self.bind.tenant = config
        if self._bind_limiter is None:
            self._bind_limiter = make_limiter(config.bind_tps)
        else:
            self._bind_limiter.set_rate(config.bind_tps, max(1.0, config.bind_tps / 10))
        self._tenant_limiter = self.ctx.registry.tenant_limiter(entry)
        self._window = max(1, config.window)
        self.session.window = self._window
        if self.bind_type in _RECEIVING:
            self.session.response_timeout = config.deliver_timeout
        if self.outlet is not None:
            self.outlet.capacity = 2 * self._window
            self.outlet.wake()
        self._room.set()
        self._room = trio.Event()

    # ------------------------------------------------------------ submitter

    async def _submit_loop(self) -> None:
        batch_out = self._batch_out
        async for items in batch_out:
            # Every batch the reader queued while the last commit was in flight goes into
            # this one core call (one journal commit): the batch grows with the load.
            batches = 1
            while True:
                try:
                    more = batch_out.receive_nowait()
                except trio.WouldBlock:
                    break
                items = items + more
                batches += 1
            try:
                await self._answer(items)
            finally:
                self._outstanding -= sum(item.weight for item in items)
                self._batches_pending -= batches
                self._room.set()
                self._room = trio.Event()

    async def _answer(self, items: list[_Work]) -> None:
        requests = [r for item in items for r in item.requests]
        answers = await self._core_submit(requests) if requests else []
        next_answer = 0
        session = self.session
        counts: dict[int, int] = {}  # status -> answers: one stats call per status, not per item
        for item in items:
            kind = item.kind
            if kind == "refuse":
                status = item.status
                response: Pdu = item.request.response_class(command_status=status)  # type: ignore[misc]
                counts[status] = counts.get(status, 0) + 1
            elif kind == "submit" or kind == "data":
                answer = answers[next_answer]
                next_answer += 1
                status = answer.status
                response_class = SubmitSmResp if kind == "submit" else DataSmResp
                response = response_class(
                    command_status=status, message_id=answer.message_id if status == _ROK else ""
                )
                counts[status] = counts.get(status, 0) + 1
            elif kind == "multi":
                count = len(item.requests)
                response = self._multi_response(item, answers[next_answer : next_answer + count])
                next_answer += count
            else:
                response = await self._other_request(item)
            session.send_response(item.request, response)
        count_submit = self.ctx.stats.count_submit
        for status, n in counts.items():
            count_submit(status, n)
        await self._flush()

    async def _core_submit(self, requests: list[SubmitRequest]) -> list[SubmitAnswer]:
        assert self.bind is not None
        try:
            answers = await self.ctx.sink.submit(self.bind, requests)
        except Exception:
            self._log.exception("core_submit_failed", tenant=self.system_id, bind_id=self._bind_id,
                                count=len(requests))
            return [SubmitAnswer(S.ESME_RSYSERR)] * len(requests)
        if len(answers) != len(requests):
            self._log.error("core_answer_count_mismatch", tenant=self.system_id, bind_id=self._bind_id,
                            requests=len(requests), answers=len(answers))
            answers = list(answers[: len(requests)])
            answers += [SubmitAnswer(S.ESME_RSYSERR)] * (len(requests) - len(answers))
        return answers

    def _multi_response(self, item: _Work, answers: list[SubmitAnswer]) -> SubmitMultiResp:
        plan = item.multi
        assert plan is not None
        unsuccess = list(plan.unsuccess)
        message_id = ""
        stats = self.ctx.stats
        for answer, (ton, npi, addr) in zip(answers, plan.addresses):
            stats.count_submit(answer.status)
            if answer.status == S.ESME_ROK:
                message_id = message_id or answer.message_id
            else:
                unsuccess.append(UnsuccessSme(ton, npi, addr, answer.status))
        for sme in plan.unsuccess:
            stats.count_submit(sme.error_status_code)
        return SubmitMultiResp(message_id=message_id, unsuccess_smes=unsuccess)

    async def _other_request(self, item: _Work) -> Pdu:
        """query_sm / cancel_sm / replace_sm: one core call each, in arrival order."""
        sink, bind, pdu = self.ctx.sink, self.bind, item.request
        assert bind is not None
        try:
            if item.kind == "query":
                assert isinstance(pdu, QuerySm)
                q = await sink.query(bind, pdu.message_id, pdu.source_addr)
                return QuerySmResp(command_status=q.status, message_id=q.message_id or pdu.message_id,
                                   final_date=q.final_date, message_state=q.message_state, error_code=q.error_code)
            if item.kind == "cancel":
                assert isinstance(pdu, CancelSm)
                status = await sink.cancel(bind, pdu.message_id, pdu.source_addr, pdu.destination_addr)
                return CancelSmResp(command_status=status)
            plan = item.replace
            assert plan is not None
            status = await sink.replace(bind, pdu.message_id, pdu.source_addr, plan.payload,  # type: ignore[attr-defined]
                                        plan.registered_delivery, plan.validity, plan.schedule)
            return ReplaceSmResp(command_status=status)
        except Exception:
            self._log.exception("core_request_failed", tenant=self.system_id, bind_id=self._bind_id,
                                kind=item.kind)
            failed = {"query": S.ESME_RQUERYFAIL, "cancel": S.ESME_RCANCELFAIL}.get(item.kind, S.ESME_RREPLACEFAIL)
            return pdu.response_class(command_status=failed)  # type: ignore[misc]

    # ------------------------------------------------------------ outlet sender

    async def _outlet_loop(self) -> None:
        outlet, session, stats = self.outlet, self.session, self.ctx.stats
        assert outlet is not None
        while True:
            await outlet.wait()
            free = session.window_free
            if free <= 0 or not outlet.queued or self._draining:
                continue
            now = trio.current_time()
            bad: list[tuple[str, int]] = []
            taken = outlet.take(free)
            for index, delivery in enumerate(taken):
                try:
                    seq = session.send_request(delivery.pdu, now)
                except LocalProtocolError:
                    outlet.put_back(taken[index:])
                    break
                except PduEncodeError:
                    self._log.error("deliver_sm_unencodable", tenant=self.system_id, bind_id=self._bind_id,
                                    entry_id=delivery.entry_id)
                    bad.append((delivery.entry_id, S.ESME_RSYSERR))
                    continue
                outlet.mark_sent(seq, delivery)
                stats.deliveries["sent"] += 1
            deadline = session.next_deadline()
            if deadline is not None and deadline < self._timer_deadline:
                self._timer_wakeup.set()  # a response deadline now comes before the one it waits for
            await self._flush()
            if bad:
                await self._report_deliveries(bad)

    # ------------------------------------------------------------ timers

    async def _timer_loop(self) -> None:
        session = self.session
        while True:
            deadline = session.next_deadline()
            if self.bind is None:
                deadline = self._bind_deadline if deadline is None else min(deadline, self._bind_deadline)
            wakeup = self._timer_wakeup
            self._timer_deadline = math.inf if deadline is None else deadline
            with trio.move_on_at(self._timer_deadline):
                await wakeup.wait()
            self._timer_deadline = -math.inf  # busy: wake-ups meanwhile are kept for the next turn
            if wakeup.is_set():
                self._timer_wakeup = trio.Event()
            now = trio.current_time()
            if self.bind is None and now >= self._bind_deadline:
                self.ctx.stats.refusals["bind_timeout"] += 1
                self._log.info("bind_timeout", timeout=self.ctx.config.bind_timeout)
                self._end("bind_timeout")
                return
            # Only a close that poll() itself decides (an unbind never answered) is ours to act
            # on: when the reader closed the session (a fatal framing error, the peer's unbind)
            # it ends the connection itself once its last answer (e.g. generic_nack) is out.
            was_open = session.state is not SessionState.CLOSED
            timed_out: list[tuple[str, int]] = []
            events = session.poll(now)
            closed_by_timer = was_open and session.state is SessionState.CLOSED
            for event in events:
                kind = type(event)
                if kind is RequestTimedOut:
                    self._on_request_timeout(event.request, timed_out)  # type: ignore[attr-defined]
                elif kind is EnquireLinkDue:
                    if session.is_bound and not self._reader_blocked:
                        session.send_enquire_link(now)
                elif kind is EnquireLinkOverdue:
                    self._log.info("enquire_link_overdue", tenant=self.system_id, bind_id=self._bind_id)
                    self._end("enquire_link_overdue")
                    return
                elif kind is IdleTimeout and not self._reader_blocked:
                    await self._unbind_and_close("idle_timeout")
                    return
            await self._flush()
            if timed_out:
                await self._report_deliveries(timed_out)
            if self._deliveries_stuck:
                self.ctx.stats.deliveries["binds_closed_unanswering"] += 1
                self._log.warning("deliver_sm_unanswered", tenant=self.system_id, bind_id=self._bind_id,
                                  timeout=session.response_timeout)
                await self._unbind_and_close("deliver_sm_unanswered")
                return
            if closed_by_timer:
                self._end("unbind_timeout")
                return

    def _on_request_timeout(self, request: Pdu, timed_out: list[tuple[str, int]]) -> None:
        if request.command_id == _DELIVER_SM and self.outlet is not None:
            delivery = self.outlet.settle(request.sequence_number)
            if delivery is not None:
                timed_out.append((delivery.entry_id, DELIVERY_TIMED_OUT))
                self.ctx.stats.deliveries["timed_out"] += 1
            # Not one deliver_sm answered for STUCK_AFTER deliver timeouts while they kept timing
            # out: the tenant's application is not processing them. Close the bind so that its
            # receipts go to binds that answer (and it may bind again once it recovers).
            if trio.current_time() - self._last_deliver_answer >= STUCK_AFTER * self.session.response_timeout:
                self._deliveries_stuck = True

    async def _unbind_and_close(self, reason: str) -> None:
        """Send unbind, give the peer response_timeout to answer, then close regardless."""
        self._draining = True
        if self.outlet is not None:
            self.outlet.stop()
        if self.session.is_bound:
            try:
                self.session.send_request(Unbind(), trio.current_time())
            except LocalProtocolError:
                pass
            else:
                await self._flush()
                with trio.move_on_after(self.ctx.config.response_timeout):
                    await self._unbound.wait()
        self._end(reason)

    async def _graceful_unbind(self) -> None:
        self._end_reason("shutdown")
        self._draining = True
        if self.outlet is not None:
            self.outlet.stop()
        await self._wait_pipeline_empty()
        await self._unbind_and_close("shutdown")
