"""One SMPP bind of a connector, kept up for the connector's whole life.

A link connects (TCP_NODELAY, optional TLS), binds, then runs three tasks on the sans-IO
`Session`: a reader that turns each socket read into events, frees window slots and hands
results and deliver_sm to the reporter without waiting for the disk; a reporter that passes
everything gathered since its last turn to the sink in one `submit_results` and one
`carrier_delivers` call (so while one commit is in flight the next batch grows, and the
window keeps moving at the carrier's pace, not the journal's); and a writer that is the only
task writing to the socket (pacing submits, keepalives, and every response queued, in one
send per turn). A deliver_sm is answered only after the sink has taken it (durably).
When the connection dies the link hands its window back to the connector's queue and
reconnects with backoff. It never decides a message's fate beyond its own submits: the
connector's shared policy (`Connector`) does retries, throttling and give-ups.
"""

from __future__ import annotations

import math
import socket
from functools import partial
from typing import TYPE_CHECKING, Literal

import structlog
import trio

from smsswitch.carrier.api import SubmitJob, SubmitOutcome, SubmitResult
from smsswitch.carrier.backoff import Backoff
from smsswitch.carrier.outcomes import StatusKind, classify, status_name
from smsswitch.carrier.tls import client_context
from smsswitch.smpp.constants import ESM_CLASS_TYPE_MASK, CommandId, CommandStatus, Tag
from smsswitch.smpp.errors import PduEncodeError
from smsswitch.smpp.events import (
    BindFailed,
    Bound,
    Closed,
    EnquireLinkDue,
    EnquireLinkOverdue,
    ProtocolFatal,
    Refused,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnbindRequested,
    Unbound,
    UnexpectedResponse,
)
from smsswitch.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DeliverSm,
    Unbind,
    make_response,
)
from smsswitch.smpp.session import LocalProtocolError, Role, Session
from smsswitch.streams import flush_session

if TYPE_CHECKING:
    from smsswitch.carrier.connector import Connector

BindType = Literal["transceiver", "transmitter", "receiver"]

log = structlog.get_logger("smsswitch.carrier")

RECEIVE_SIZE = 256 * 1024
#: Reservations due this soon are sent now with the batch: at most 2 ms early, never a burst.
PACING_SLACK = 0.002
#: A single writer turn sends at most this many submits before it flushes.
MAX_BATCH = 512
#: Extra session window slots beyond the submit window, for enquire_link and unbind.
CONTROL_SLOTS = 2
#: deliver_sm read but not yet taken by the sink, at most; beyond it the reader waits (a
#: carrier ignoring its window cannot grow our memory).
MAX_UNREPORTED_DELIVERS = 4096

_SUBMIT_SM = int(CommandId.SUBMIT_SM)
_RECEIPT_TYPES = (0x04, 0x08)  # SMSC delivery receipt, SME delivery ack
_BIND_CLASSES = {
    "transceiver": BindTransceiver,
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
}


class LinkLost(Exception):
    """The connection ended (peer closed, unbound us, keepalive unanswered, protocol error)."""


class BindRefused(LinkLost):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_name(status)}")
        self.status = status


class CarrierLink:
    """One bind (transceiver, transmitter or receiver) of a connector."""

    def __init__(self, owner: Connector, index: int, bind_type: BindType) -> None:
        self.owner = owner
        self.config = owner.config
        self.index = index
        self.bind_type = bind_type
        self.can_submit = bind_type != "receiver"
        self.label = f"{index}" if bind_type == "transceiver" else f"{index}{bind_type[0]}"
        self.session: Session | None = None
        self.stream: trio.abc.Stream | None = None
        # seq -> job: our submits awaiting submit_sm_resp on this connection.
        self.inflight: dict[int, SubmitJob] = {}
        # Jobs taken from the queue but not yet handed to the session (requeued if we die).
        self.unsent: list[SubmitJob] = []
        self.bound = False
        self.backoff = Backoff(
            self.config.reconnect_initial, self.config.reconnect_max, owner.rng
        )
        self._wake = trio.Event()
        #: The writer waits with room in its window for the queue to hand it work: a read
        #: that leaves nothing to send needs no wake-up then (one task step per read saved).
        self._writer_awaits_work = False
        #: The writer waits for a wake-up with a full window (not in the middle of a turn):
        #: the reader may then refill the window itself (`_reader_may_refill`).
        self._writer_waits_for_room = False
        #: A `_submit_some` is running (in the writer or the reader): never two at once.
        self._submitting = False
        self._unbound = trio.Event()
        self._send_lock = trio.Lock()
        self._lost: str | None = None
        # Gathered by the reader, taken by the reporter (results before the delivers read
        # after them, so a receipt normally finds its carrier id already committed).
        self._results: list[SubmitResult] = []
        self._delivers: list[DeliverSm | DataSm] = []
        self._report_wake = trio.Event()
        self._report_room = trio.Event()
        self._log = log.bind(connector=self.config.name, link=self.label, bind=bind_type)

    # ------------------------------------------------------------ lifetime

    async def run(self) -> None:
        """Connect, bind and serve until the connector closes; reconnect on any loss."""
        owner = self.owner
        was_bound = False
        while not owner.closing:
            reason = "closed"
            try:
                await self._connect_and_serve()
            except BindRefused as exc:
                reason = str(exc)
                owner.counters.bind_failures += 1
            except LinkLost as exc:
                reason = str(exc)
            except trio.TooSlowError:
                reason = "connect or bind timed out"
                owner.counters.bind_failures += 1
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                reason = _describe(exc)
                if not self.bound:
                    owner.counters.bind_failures += 1
            except Exception as exc:  # never let one bind take the daemon down
                reason = f"internal error: {exc!r}"
                self._log.exception("carrier.link_error", error=repr(exc))
            finally:
                was_bound = self.bound
                self._tear_down(reason)
            if owner.closing:
                break
            delay = self.backoff.next_delay()
            owner.counters.reconnects += 1
            self._log.warning(
                "carrier.link_down",
                reason=reason,
                was_bound=was_bound,
                retry_in=round(delay, 3),
                attempt=self.backoff.attempt,
            )
            await owner.sleep_unless_closing(delay)

    def _tear_down(self, reason: str) -> None:
        """Give every job this connection held back to the connector (synchronous: safe
        under cancellation) and forget the connection."""
        jobs = self.unsent + list(self.inflight.values())
        self.unsent = []
        self.inflight = {}
        if self._results:  # answered by the carrier but not yet told to the sink
            self.owner.set_aside(self._results)
        self._results = []
        self._delivers = []  # unanswered: the carrier sends them again
        if self.session is not None:
            self.session.close()
        self.bound = False
        stream, self.stream = self.stream, None
        if stream is not None:
            _close_now(stream)
        if jobs:
            self.owner.requeue_lost(jobs, reason)

    async def _connect_and_serve(self) -> None:
        config = self.config
        self._lost = None
        self._unbound = trio.Event()
        self._wake = trio.Event()
        self._writer_awaits_work = False  # the last link's writer may have been cancelled waiting
        self._writer_waits_for_room = False
        self._submitting = False
        self._report_wake = trio.Event()
        self._report_room = trio.Event()
        with trio.fail_after(max(config.response_timeout, 0.001) * 2):
            self.stream = await self._connect()
            self.session = Session(
                Role.ESME,
                window=config.window + CONTROL_SLOTS,
                response_timeout=config.response_timeout,
                enquire_link_interval=config.enquire_link_interval or None,
            )
            early_events = await self._bind()
        self.bound = True
        self.backoff.reset()
        self.owner.counters.binds += 1
        self._log.info("carrier.bound", host=config.host, port=config.port, tls=config.tls is not None)
        failure: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._guard, partial(self._reader, early_events), nursery.cancel_scope, failure)
            nursery.start_soon(self._guard, self._writer, nursery.cancel_scope, failure)
            nursery.start_soon(self._guard, self._reporter, nursery.cancel_scope, failure)
        if failure:
            raise failure[0]
        self._log.info("carrier.unbound")

    async def _guard(self, task, scope: trio.CancelScope, failure: list[BaseException]) -> None:
        """Run a session task; whichever ends first (normally or not) ends the other."""
        try:
            await task()
        except (LinkLost, OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            failure.append(exc if isinstance(exc, LinkLost) else LinkLost(_describe(exc)))
        except Exception as exc:  # a bug or a sink failure: reconnect rather than die
            self._log.exception("carrier.link_error", error=repr(exc))
            failure.append(LinkLost(f"internal error: {exc!r}"))
        finally:
            scope.cancel()

    async def _connect(self) -> trio.abc.Stream:
        config = self.config
        tcp = await trio.open_tcp_stream(config.host, config.port)
        try:
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if config.tls is None:
                return tcp
            tls_stream = trio.SSLStream(
                tcp,
                client_context(config.tls),
                server_hostname=config.tls.server_hostname or config.host,
                https_compatible=False,
            )
            await tls_stream.do_handshake()
            return tls_stream
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise

    async def _bind(self) -> list:
        """Bind; returns the events that came in the same read after the bind_resp (carriers
        send queued deliver_sm right away)."""
        config = self.config
        session = self.session
        assert session is not None and self.stream is not None
        bind = _BIND_CLASSES[self.bind_type](
            system_id=config.system_id, password=config.password, system_type=config.system_type
        )
        session.send_request(bind, self.owner.clock())
        await self.stream.send_all(session.data_to_send())
        while True:
            data = await self.stream.receive_some(RECEIVE_SIZE)
            events = session.receive_data(data, self.owner.clock())
            for index, event in enumerate(events):
                if type(event) is Bound:
                    return events[index + 1 :]
                if type(event) is BindFailed:
                    raise BindRefused(event.status)
                if type(event) is Closed:
                    raise LinkLost("carrier closed the connection during bind")
                if type(event) is ProtocolFatal:
                    raise LinkLost(f"protocol error during bind: {event.reason}")
            pending = session.data_to_send()  # e.g. an enquire_link answered while binding
            if pending:
                await self.stream.send_all(pending)

    # ------------------------------------------------------------ reading

    async def _reader(self, early_events: list) -> None:
        session = self.session
        stream = self.stream
        assert session is not None and stream is not None
        clock = self.owner.clock
        events = early_events
        while True:
            writer_needed = not self._writer_awaits_work
            if events:
                self._handle_events(events)
                if self._writer_waits_for_room and self._reader_may_refill():
                    await self._fill_window(report_pending=False)
                    # A window full again is all the writer would have done; with room left
                    # (the queue ran dry) it must wake to wait for work instead.
                    writer_needed = self._may_take_work()
            if writer_needed or session.has_data_to_send:
                self._wake.set()  # the writer sends what we queued and refills the window
            if self._lost is not None:
                await self._flush()  # e.g. unbind_resp: best effort, the link is going
                raise LinkLost(self._lost)
            if self._unbound.is_set():
                return
            while len(self._delivers) >= MAX_UNREPORTED_DELIVERS:
                await self._report_room.wait()
            data = await stream.receive_some(RECEIVE_SIZE)
            events = session.receive_data(data, clock())

    def _handle_events(self, events: list) -> None:
        owner = self.owner
        counters = owner.counters
        session = self.session
        assert session is not None
        inflight = self.inflight
        results = self._results
        retry: list[SubmitJob] = []
        delivers = self._delivers
        reported = len(results) + len(delivers)
        throttled = False
        accepted = 0
        for event in events:
            kind = type(event)
            if kind is ResponseReceived:
                request = event.request
                if request.command_id != _SUBMIT_SM:
                    continue  # enquire_link_resp: the session already noted the activity
                job = inflight.pop(request.sequence_number, None)
                if job is None:
                    continue
                response = event.response
                status = response.command_status
                counters.response(status, event.latency)
                verdict = classify(status)
                if verdict is StatusKind.OK:
                    accepted += 1
                    results.append(
                        SubmitResult(
                            job,
                            SubmitOutcome.ACCEPTED,
                            0,
                            getattr(response, "message_id", "") or "",
                            latency=event.latency,
                        )
                    )
                elif verdict is StatusKind.THROTTLE:
                    throttled = True
                    counters.throttled += 1
                    owner.retry(job, status, status_name(status), retry, throttle=True)
                elif verdict is StatusKind.TRANSIENT:
                    owner.retry(job, status, status_name(status), retry)
                else:
                    results.append(
                        SubmitResult(
                            job, SubmitOutcome.REJECTED, status, None, status_name(status), event.latency
                        )
                    )
            elif kind is RequestReceived:
                pdu = event.pdu
                if isinstance(pdu, (DeliverSm, DataSm)):
                    delivers.append(pdu)
                else:  # nothing else is legal from a carrier and reaches us here
                    session.send_response(pdu, make_response(pdu, CommandStatus.ESME_RINVCMDID))
            elif kind is UnbindRequested:
                session.send_response(event.pdu, make_response(event.pdu))
                self._lost = "carrier unbound us"
            elif kind is Unbound:
                self._unbound.set()
            elif kind is Closed:
                self._lost = "carrier closed the connection"
            elif kind is ProtocolFatal:
                self._lost = f"protocol error: {event.reason}"
            elif kind is UnexpectedResponse:
                counters.unexpected_responses += 1
            elif kind is Refused:
                counters.refused += 1
        if accepted:
            now = owner.clock()
            owner.pacer.accepted(now, accepted)
        if throttled:
            owner.throttled()
        elif accepted:
            owner.pacer.clean_batch(now)
        if retry:
            owner.requeue(retry)
        if len(results) + len(delivers) > reported:
            self._report_wake.set()

    def _reader_may_refill(self) -> bool:
        """A read freed slots of a full window: the reader sends the next submits itself
        rather than wake the writer for it a scheduler pass later (on a 50 ms carrier that
        pass held each slot ~1 ms longer than the carrier's answer). Only when sending cannot
        mean waiting: no rate limit or throttle pause to sleep through. (The caller checked
        that the writer is parked, so no turn of its is under way.)"""
        return self.owner.pacer.limiter.unlimited and self._may_submit()

    async def _fill_window(self, report_pending: bool = True) -> None:
        """`_submit_some`, marked: the writer skips its own while the reader's is suspended
        in a send, so the two never take jobs at once."""
        self._submitting = True
        try:
            await self._submit_some(report_pending)
        finally:
            self._submitting = False

    async def _reporter(self) -> None:
        """Tell the sink, in one call each, every result and deliver_sm read since the last
        turn; answer the deliver_sm once the sink has them; repeat."""
        owner = self.owner
        counters = owner.counters
        session = self.session
        assert session is not None
        while True:
            await self._report_wake.wait()
            self._report_wake = trio.Event()
            results, self._results = self._results, []
            delivers, self._delivers = self._delivers, []
            self._report_room.set()
            self._report_room = trio.Event()
            if results:
                await owner.report(results)
            if not delivers:
                continue
            statuses = await owner.deliver(delivers)
            for pdu, status in zip(delivers, statuses):
                session.send_response(pdu, make_response(pdu, status))
            for pdu in delivers:
                if (pdu.esm_class & ESM_CLASS_TYPE_MASK) in _RECEIPT_TYPES or Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs:
                    counters.receipts += 1
                else:
                    counters.mo += 1
            self._wake.set()  # the writer sends the responses

    # ------------------------------------------------------------ writing

    async def _writer(self) -> None:
        owner = self.owner
        session = self.session
        assert session is not None
        clock = owner.clock
        while True:
            self._wake = trio.Event()  # anything signalled from here on is handled next turn
            await self._check_timers(clock())
            if owner.closing:
                await self._unbind()
                return
            if self._may_submit() and not self._submitting:
                await self._fill_window()
            await self._flush()
            if self._wake.is_set():
                continue
            idle = self._may_take_work()
            if idle:
                owner.queue.register_idle(self._wake)
            deadline = session.next_deadline()
            pause = owner.pacer.paused_until
            now = clock()
            until = min(
                deadline if deadline is not None else math.inf,
                pause if pause > now else math.inf,
                now + 1.0,
            )
            self._writer_awaits_work = idle
            self._writer_waits_for_room = not idle
            with trio.move_on_at(until):
                await self._wake.wait()
            self._writer_awaits_work = self._writer_waits_for_room = False
            if idle:
                owner.queue.unregister_idle(self._wake)

    def _may_take_work(self) -> bool:
        return (
            self.can_submit
            and not self.owner.draining
            and len(self.inflight) + len(self.unsent) < self.config.window
        )

    def _may_submit(self) -> bool:
        owner = self.owner
        return self._may_take_work() and len(owner.queue) > 0 and owner.pacer.paused_until <= owner.clock()

    async def _submit_some(self, report_pending: bool = True) -> None:
        """Fill the window from the queue, paced by the connector's limiter, in batches.
        `report_pending`: also tell the sink the results set aside meanwhile (a journal
        commit: the writer does it, the reader must not wait for one)."""
        owner = self.owner
        pacer = owner.pacer
        clock = owner.clock
        batch = self.unsent
        window = self.config.window
        while len(self.inflight) + len(batch) < window and not owner.draining and not owner.closing:
            if pacer.paused_until > clock():
                break
            if not owner.queue:
                break
            delay = pacer.reserve(clock())
            if delay > PACING_SLACK:
                if batch:
                    await self._send_jobs(batch)
                await self._sleep_flushing(delay)
                if owner.draining or owner.closing or self._lost is not None:
                    break
            job = owner.next_job()
            if job is None:
                break
            batch.append(job)
            if len(batch) >= MAX_BATCH:
                await self._send_jobs(batch)
        if batch:
            await self._send_jobs(batch)
        if report_pending and owner.has_pending_results:
            await owner.report([])

    async def _send_jobs(self, batch: list[SubmitJob]) -> None:
        """Record the batch with the sink (before the wire: a record precedes every send),
        hand it to the session and flush. `batch` is self.unsent and is emptied."""
        owner = self.owner
        config = self.config
        for job in batch:
            job.attempts += 1
            pdu = job.pdu
            if not pdu.source_addr and config.source_addr:
                pdu.source_addr = config.source_addr
                pdu.source_addr_ton = config.source_ton
                pdu.source_addr_npi = config.source_npi
        await owner.announce(batch)
        session = self.session
        assert session is not None
        now = owner.clock()
        failed: list[SubmitResult] = []
        inflight = self.inflight
        sent = 0
        for index, job in enumerate(batch):
            try:
                seq = session.send_request(job.pdu, now)
            except PduEncodeError as exc:
                failed.append(
                    SubmitResult(job, SubmitOutcome.REJECTED, CommandStatus.ESME_RSYSERR, None, f"cannot encode: {exc}")
                )
                continue
            except LocalProtocolError as exc:
                # Not bound any more (or the window is inconsistent): the rest go back.
                del batch[:index]
                self._lost = f"cannot submit: {exc}"
                break
            inflight[seq] = job
            sent += 1
        else:
            batch.clear()
        owner.counters.submits_sent += sent
        owner.pacer.sent(now, sent)
        if failed:
            await owner.report(failed)
        await self._flush()
        if self._lost is not None:
            raise LinkLost(self._lost)

    async def _sleep_flushing(self, delay: float) -> None:
        """Sleep `delay` for pacing, still sending whatever the reader queues meanwhile."""
        clock = self.owner.clock
        until = clock() + delay
        while clock() < until:
            with trio.move_on_at(until):
                await self._wake.wait()
            if self._wake.is_set():
                self._wake = trio.Event()
                await self._check_timers(clock())
                await self._flush()
            if self._lost is not None:
                return

    async def _check_timers(self, now: float) -> None:
        session = self.session
        assert session is not None
        events = session.poll(now)
        if not events:
            return
        owner = self.owner
        retry: list[SubmitJob] = []
        # Not a byte of a PDU from the carrier for a whole response_timeout: the session is
        # dead or stalled. Resending the timed-out submits into it would only multiply the
        # copies the carrier delivers when it wakes up; end it and resend after a new bind.
        last = session.last_received
        silent = last is not None and now - last >= session.response_timeout
        for event in events:
            kind = type(event)
            if kind is RequestTimedOut:
                job = self.inflight.pop(event.request.sequence_number, None)
                if job is not None:
                    owner.counters.timeouts += 1
                    owner.retry(job, 0, "response timeout", retry)
                    if silent:
                        self._lost = "carrier silent: no response within response_timeout"
            elif kind is EnquireLinkDue:
                session.send_enquire_link(now)
            elif kind is EnquireLinkOverdue:
                self._lost = "enquire_link unanswered"
        if retry:
            owner.requeue(retry)
        if self._lost is not None:
            raise LinkLost(self._lost)

    async def _flush(self) -> None:
        session = self.session
        if session is not None and session.has_data_to_send and self.stream is not None:
            # (checked here too: most writer turns have nothing, and then no coroutine is made)
            await flush_session(session, self.stream, self._send_lock)

    async def _unbind(self) -> None:
        """Polite goodbye on stop: unbind, wait briefly for unbind_resp, then let go."""
        session = self.session
        assert session is not None
        try:
            session.send_request(Unbind(), self.owner.clock())
        except LocalProtocolError:
            return
        await self._flush()
        with trio.move_on_after(min(2.0, max(self.config.response_timeout, 0.05))):
            await self._unbound.wait()

    def wake(self) -> None:
        self._wake.set()


def _close_now(stream: trio.abc.Stream) -> None:
    """Close the socket under `stream` synchronously (works while being cancelled)."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    sock = getattr(stream, "socket", None)
    if sock is not None:
        sock.close()


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = f"{type(exc).__name__}: {exc}"
    if cause is not None and not str(exc):
        text = f"{type(cause).__name__}: {cause}"
    elif cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text
