"""The carrier simulator's server: an SMSC that behaves like a carrier, and misbehaves on
request, for tests, the demo and the benchmarks (the command line is in `simulator`).

It runs on the project's own sans-IO `Session` (role SMSC). Each connection has a reader that
turns one socket read into all its answers and one write, and a writer that sends the
deliver_sm (receipts, MO) queued for it. Receipts wait in one bounded heap served by one task;
a connection's window caps its outstanding deliver_sm and the rest wait in its backlog.
"""

from __future__ import annotations

import math
import random
import socket
import time
from collections import deque
from typing import Any, Callable

import attrs
import structlog
import trio

from smsswitch.carrier.sim_model import (
    DuplicateDetector,
    MessageIds,
    ReceiptSchedule,
    SimStats,
    StateMix,
    format_id,
)
from smsswitch.carrier.tls import server_context
from smsswitch.config import SimulatorConfig
from smsswitch.ratelimit import RateLimiter
from smsswitch.smpp.constants import (
    ESM_CLASS_DELIVERY_RECEIPT,
    REGISTERED_DELIVERY_RECEIPT_ALWAYS,
    REGISTERED_DELIVERY_RECEIPT_MASK,
    REGISTERED_DELIVERY_RECEIPT_ON_FAILURE,
    SHORT_MESSAGE_MAX,
    CommandStatus,
    Tag,
)
from smsswitch.smpp.events import (
    BindRequested,
    Closed,
    ProtocolFatal,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnbindRequested,
)
from smsswitch.smpp.pdu import (
    BindReceiver,
    BindTransmitter,
    DeliverSm,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    make_response,
)
from smsswitch.smpp.receipt import STATE_BY_STAT, format_receipt, receipt_minute
from smsswitch.smpp.session import LocalProtocolError, Role, Session
from smsswitch.smpp.text import DataCodingError, decode_text, encode_text
from smsswitch.streams import acquire_eagerly, send_eagerly

log = structlog.get_logger("smsswitch.carrier.simulator")

RECEIVE_SIZE = 256 * 1024
#: The receipt task wakes at most this often, so receipts due together go out together.
RECEIPT_TICK = 0.005
#: A client has this long to answer a deliver_sm before the simulator sends it elsewhere.
DELIVER_TIMEOUT = 10.0
#: deliver_sm refused (non-zero status) or unanswered is retried this many times, then dropped.
DELIVER_ATTEMPTS = 5
DELIVER_RETRY_DELAY = 0.5
#: Distinct destinations counted one by one before the rest go under "other".
MAX_DESTINATIONS = 10_000
SMSC_SYSTEM_ID = "smsswitch-sim"
#: In receipt-first mode, the submit_sm_resp follows its receipt this much later.
RECEIPT_FIRST_GAP = 0.02

_SUBMIT_OK = CommandStatus.ESME_ROK
_RECEIPT_MODES = ("text", "tlv", "both")


@attrs.define(slots=True, eq=False)
class _Outbound:
    """One deliver_sm the simulator owes a client (a receipt or an MO)."""

    pdu: DeliverSm
    kind: str  # "receipt" or "mo"
    state: str = ""
    origin: int = 0  # connection id that submitted the message (receipts prefer it)
    attempts: int = 0


@attrs.define(slots=True, eq=False)
class _Received:
    message_id: str
    connection: int
    pdu: SubmitSm
    time: float


class _Connection:
    """One client connection: its session, its receipts backlog and its counters."""

    def __init__(
        self, conn_id: int, stream: trio.abc.Stream, peer: str, window: int, stats: SimStats,
        delay: float = 0.0, clock: Callable[[], float] = trio.current_time,
    ) -> None:  # fmt: skip
        self.id = conn_id
        self.stats = stats  # the simulator's: delayed answers are counted across connections
        self.stream = stream
        self.peer = peer
        # response_delay: submit answers go out `delay` after their submits were read, while
        # reading goes on (what is written meanwhile queues behind them, in order); `line`
        # holds (due, bytes, submits answered in them).
        self.delay = delay
        self.clock = clock
        self.line: deque[tuple[float, bytes, int]] = deque()
        self.line_submits = 0
        self.line_wake = trio.Event()
        self.line_lock = trio.Lock()
        self.answered_submits = 0
        # When the read holding the answered submits arrived: their delay counts from then,
        # not from when we finished decoding and answering them (that is our CPU, not the link).
        self.read_at = -math.inf
        self.session = Session(
            Role.SMSC,
            window=max(1, window),
            response_timeout=DELIVER_TIMEOUT,
            enquire_link_interval=None,
        )
        self.bind_type: str | None = None
        self.can_receive = False
        self.submits = 0
        self.backlog: deque[_Outbound] = deque()
        self.outstanding: dict[int, _Outbound] = {}
        self.deferred: list[tuple[Pdu, Pdu]] = []
        self.wake = trio.Event()
        self.send_lock = trio.Lock()
        self.closed = False

    def pump(self, now: float) -> None:
        """Move backlog deliver_sm into the session while its window has room."""
        session = self.session
        backlog = self.backlog
        while backlog and session.window_free > 0:
            item = backlog.popleft()
            try:
                seq = session.send_request(item.pdu, now)
            except LocalProtocolError:
                backlog.appendleft(item)
                return
            item.attempts += 1
            self.outstanding[seq] = item

    async def flush(self) -> None:
        if not self.session.has_data_to_send:
            self.answered_submits = 0
            return
        await acquire_eagerly(self.send_lock)
        try:
            data = self.session.data_to_send()
            submits, self.answered_submits = self.answered_submits, 0
            if not data or self.closed:
                return
            if self.delay <= 0:
                await send_eagerly(self.stream, data)
                return
            line = self.line
            if submits or line:
                # Submit answers wait `delay` from their arrival; anything else queues behind
                # them, in order (max: the line's due times never go backwards).
                due = max(self.read_at + self.delay, line[-1][0] if line else -math.inf) if submits else line[-1][0]
                line.append((due, data, submits))
                self.line_submits += submits
                self.line_wake.set()
                return
            async with self.line_lock:
                await send_eagerly(self.stream, data)
        finally:
            self.send_lock.release()

    async def run_delay_line(self) -> None:
        """With a response delay, the only writer: sends what fell due, in order."""
        line = self.line
        while True:
            while not line:
                self.line_wake = trio.Event()
                await self.line_wake.wait()
            await trio.sleep_until(line[0][0])
            await self.send_line(self.clock())

    async def send_line(self, until: float) -> None:
        """Send, in one write, what is due by `until` (math.inf: all of it)."""
        async with self.line_lock:
            line = self.line
            chunks = []
            now = self.clock()  # after the lock: when these answers really leave
            late = 0.0
            answered = 0
            while line and line[0][0] <= until:
                due, data, submits = line.popleft()
                chunks.append(data)
                self.line_submits -= submits
                if submits:
                    late += (now - due) * submits
                    answered += submits
            if answered and until != math.inf:  # math.inf: the final flush, not a due time
                self.stats.delayed_answers += answered
                self.stats.delayed_answers_late_s += late
            if chunks:
                await send_eagerly(self.stream, chunks[0] if len(chunks) == 1 else b"".join(chunks))


class _Dropped(Exception):
    """The simulator hangs up on this connection on purpose (drop_every)."""


class CarrierSimulator:
    """An SMSC that tests and benchmarks drive; see the module docstring."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        clock: Callable[[], float] = trio.current_time,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if config.receipts_in not in _RECEIPT_MODES:
            raise ValueError(f"receipts_in must be one of {_RECEIPT_MODES}")
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.port: int | None = None
        self._rng = random.Random(config.seed)
        self._ids = MessageIds(config.id_format)
        self._mix = StateMix(config.final_states, self._rng)
        self._limiter = (
            RateLimiter(config.throttle_above, burst=max(1.0, config.throttle_above / 10))
            if config.throttle_above > 0
            else None
        )
        self._stats = SimStats()
        self._duplicates = DuplicateDetector(max(1, config.keep_received) * 10)
        self._received: deque[_Received] = deque(maxlen=max(1, config.keep_received))
        self._schedule = ReceiptSchedule(config.max_pending_receipts)
        self._orphans: deque[_Outbound] = deque()  # owed, but no receiver is bound
        self._connections: dict[int, _Connection] = {}
        self._next_conn_id = 1
        self._round_robin = 0
        self._receipt_wake = trio.Event()
        self._stalled_until = -math.inf
        self._refuse_binds_until = -math.inf
        self._scope: trio.CancelScope | None = None
        self._started_at: float | None = None

    # ------------------------------------------------------------ control (tests, CLI)

    async def serve(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until stop() or cancellation; task_status gets the actual port."""
        config = self.config
        self._started_at = self.clock()
        if config.refuse_binds_for > 0:
            self._refuse_binds_until = self._started_at + config.refuse_binds_for
        with trio.CancelScope() as scope:
            self._scope = scope
            listeners: list[Any] = await trio.open_tcp_listeners(config.port, host=config.host)
            self.port = listeners[0].socket.getsockname()[1]
            if config.tls is not None:
                context = server_context(config.tls)
                listeners = [
                    trio.SSLListener(listener, context, https_compatible=False) for listener in listeners
                ]
            log.info("sim.listening", host=config.host, port=self.port, tls=config.tls is not None)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._receipt_loop)
                await nursery.start(trio.serve_listeners, self._handle, listeners)
                task_status.started(self.port)
        self._connections.clear()

    def stop(self) -> None:
        """Close the listener and every connection now (like a carrier going down)."""
        if self._scope is not None:
            self._scope.cancel()

    def stall(self, seconds: float) -> None:
        """Stop reading and answering anything (incl. enquire_link) for `seconds`."""
        self._stalled_until = max(self._stalled_until, self.clock() + seconds)
        self._stats.stalls += 1

    def throttle(self, above: float) -> None:
        """From now on answer ESME_RTHROTTLED above `above` submits/s (0 = stop throttling);
        a tiny rate such as 0.001 throttles everything."""
        self._limiter = RateLimiter(above, burst=max(1.0, above / 10)) if above > 0 else None

    def refuse_binds(self, seconds: float) -> None:
        """Refuse binds with ESME_RBINDFAIL for the next `seconds`."""
        self._refuse_binds_until = self.clock() + seconds

    def drop_connections(self) -> int:
        """Hang up on every client now; returns how many connections were closed."""
        count = 0
        for conn in list(self._connections.values()):
            conn.closed = True
            _close_now(conn.stream)
            count += 1
        return count

    def stats(self) -> dict[str, Any]:
        """Everything counted so far, JSON-able."""
        data = self._stats.as_dict()
        data["bound"] = sum(1 for c in self._connections.values() if c.bind_type)
        data["receipts_pending"] = len(self._schedule) + len(self._orphans) + sum(
            len(c.backlog) for c in self._connections.values()
        )
        return data

    def received(self) -> list[dict[str, Any]]:
        """The submits answered ESME_ROK (the newest `keep_received`), oldest first."""
        return [_describe_submit(entry) for entry in self._received]

    def connections(self) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "peer": c.peer,
                "bind_type": c.bind_type,
                "submits": c.submits,
                "outstanding_deliver_sm": len(c.outstanding),
                "backlog": len(c.backlog),
            }
            for c in self._connections.values()
        ]

    async def inject_mo(
        self, source: str, dest: str, text: str | bytes, data_coding: int = 0, **fields: Any
    ) -> None:
        """Send an MO deliver_sm (from `source` to short code `dest`) to a bound receiver;
        it waits (bounded) if no receiver is bound yet."""
        payload = text if isinstance(text, bytes) else encode_text(text, data_coding)
        pdu = DeliverSm(
            source_addr=source,
            source_addr_ton=fields.pop("source_addr_ton", 1),
            source_addr_npi=fields.pop("source_addr_npi", 1),
            destination_addr=dest,
            dest_addr_ton=fields.pop("dest_addr_ton", 0),
            dest_addr_npi=fields.pop("dest_addr_npi", 0),
            data_coding=data_coding,
            **fields,
        )
        if len(payload) > SHORT_MESSAGE_MAX:
            pdu.tlvs[Tag.MESSAGE_PAYLOAD] = payload
        else:
            pdu.short_message = payload
        self._stats.mo_sent += 1
        self._dispatch([_Outbound(pdu, "mo")], self.clock())
        await trio.lowlevel.checkpoint()

    # ------------------------------------------------------------ connections

    async def _handle(self, stream: trio.abc.Stream) -> None:
        conn_id = self._next_conn_id
        self._next_conn_id += 1
        peer = _peer_name(stream)
        config = self.config
        conn = _Connection(conn_id, stream, peer, config.window, self._stats, config.response_delay, self.clock)
        self._connections[conn_id] = conn
        self._stats.connections += 1
        reason = "closed"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer, conn, nursery.cancel_scope)
                if conn.delay > 0:
                    nursery.start_soon(self._delay_line, conn, nursery.cancel_scope)
                try:
                    await self._reader(conn)
                except _Dropped:
                    reason = "dropped on purpose"
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            conn.closed = True
            del self._connections[conn_id]
            _close_now(stream)
            self._rehome(conn)
            if conn.bind_type:
                log.info("sim.disconnected", conn=conn_id, peer=peer, reason=reason, submits=conn.submits)

    async def _reader(self, conn: _Connection) -> None:
        session = conn.session
        stream = conn.stream
        clock = self.clock
        while True:
            await self._wait_out_stall()
            data = await stream.receive_some(RECEIVE_SIZE)
            await self._wait_out_stall()  # a stall that began while we were waiting for bytes
            conn.read_at = clock()
            events = session.receive_data(data, conn.read_at)
            # Every read is answered in full before the next: what is open is this read's
            # submits plus the answers still on their way (response_delay).
            submits = sum(1 for e in events if type(e) is RequestReceived and e.pdu.__class__ is SubmitSm)
            if submits:
                unanswered = submits + conn.line_submits
                if unanswered > self._stats.max_unanswered:
                    self._stats.max_unanswered = unanswered
            done = await self._handle_events(conn, events)
            conn.answered_submits += submits
            conn.pump(clock())
            await conn.flush()
            if conn.deferred:  # receipt-first mode: the receipts are out, now the responses
                await trio.sleep(RECEIPT_FIRST_GAP)
                for request, response in conn.deferred:
                    session.send_response(request, response)
                conn.deferred.clear()
                await conn.flush()
            if done:
                return

    async def _handle_events(self, conn: _Connection, events: list) -> bool:
        """Answer a read's worth of requests; True when the connection should end."""
        session = conn.session
        stats = self._stats
        now = self.clock()
        stall_after = self.config.stall_after
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                pdu = event.pdu
                if pdu.__class__ is SubmitSm:
                    conn.submits += 1
                    if self.config.drop_every and conn.submits % self.config.drop_every == 0:
                        stats.submits_received += 1
                        stats.drops += 1
                        await conn.flush()
                        await conn.send_line(math.inf)  # the earlier answers still reach the peer
                        raise _Dropped()
                    self._on_submit(conn, pdu, now)
                    if stall_after and conn.submits % stall_after == 0 and self.config.stall_for > 0:
                        stats.stalls += 1
                        await conn.flush()
                        await trio.sleep(self.config.stall_for)
                        now = conn.read_at = self.clock()
                else:
                    # query_sm, cancel_sm, replace_sm, data_sm, submit_multi: not simulated.
                    session.send_response(pdu, make_response(pdu, CommandStatus.ESME_RINVCMDID))
            elif kind is ResponseReceived:
                self._on_deliver_resp(conn, event, now)
            elif kind is BindRequested:
                if not self._on_bind(conn, event.pdu, now):
                    return True
            elif kind is UnbindRequested:
                session.send_response(event.pdu, make_response(event.pdu))
                stats.unbinds += 1
                return True
            elif kind is Closed or kind is ProtocolFatal:
                return True
        return False

    def _on_bind(self, conn: _Connection, pdu: Pdu, now: float) -> bool:
        config = self.config
        stats = self._stats
        if now < self._refuse_binds_until:
            status = CommandStatus.ESME_RBINDFAIL
        elif pdu.system_id != config.system_id:  # type: ignore[attr-defined]
            status = CommandStatus.ESME_RINVSYSID
        elif pdu.password != config.password:  # type: ignore[attr-defined]
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = CommandStatus.ESME_ROK
        if status:
            stats.bind_refusals += 1
            conn.session.send_response(pdu, make_response(pdu, status))
            log.info("sim.bind_refused", conn=conn.id, status=f"0x{int(status):08X}")
            return False
        bind_type = (
            "transmitter" if isinstance(pdu, BindTransmitter)
            else "receiver" if isinstance(pdu, BindReceiver)
            else "transceiver"
        )
        conn.session.send_response(pdu, make_response(pdu, status, system_id=SMSC_SYSTEM_ID))
        conn.bind_type = bind_type
        conn.can_receive = bind_type != "transmitter"
        stats.binds += 1
        stats.binds_by_type[bind_type] = stats.binds_by_type.get(bind_type, 0) + 1
        log.info("sim.bound", conn=conn.id, peer=conn.peer, bind=bind_type)
        if conn.can_receive and self._orphans:
            orphans = list(self._orphans)
            self._orphans.clear()
            conn.backlog.extend(orphans)
        return True

    def _on_submit(self, conn: _Connection, pdu: SubmitSm, now: float) -> None:
        config = self.config
        stats = self._stats
        session = conn.session
        stats.submits_received += 1
        by_conn = stats.submits_by_connection
        by_conn[conn.id] = by_conn.get(conn.id, 0) + 1
        if self._limiter is not None and not self._limiter.try_acquire(now):
            stats.throttled += 1
            session.send_response(pdu, make_response(pdu, CommandStatus.ESME_RTHROTTLED))
            return
        if config.fail_fraction > 0 and self._rng.random() < config.fail_fraction:
            stats.failed += 1
            session.send_response(pdu, make_response(pdu, config.fail_status))
            return
        number, message_id = self._ids.next()
        stats.submits_accepted += 1
        key = (pdu.source_addr, pdu.destination_addr, pdu.short_message, pdu.tlvs.get(Tag.MESSAGE_PAYLOAD),
               pdu.tlvs.get(Tag.SAR_MSG_REF_NUM), pdu.tlvs.get(Tag.SAR_SEGMENT_SEQNUM))
        if self._duplicates.seen_before(key):
            stats.duplicates += 1
        by_dest = stats.submits_by_destination
        dest = pdu.destination_addr
        if dest in by_dest or len(by_dest) < MAX_DESTINATIONS:
            by_dest[dest] = by_dest.get(dest, 0) + 1
        else:
            by_dest["other"] = by_dest.get("other", 0) + 1
        self._received.append(_Received(message_id, conn.id, pdu, self.wall_clock()))
        receipt = self._make_receipt(pdu, number, message_id, conn.id)
        response = SubmitSmResp(message_id=message_id)
        if receipt is not None and config.receipt_before_response and conn.can_receive:
            # The receipt goes out now; the response only after RECEIPT_FIRST_GAP (see _reader).
            conn.backlog.append(receipt)
            conn.pump(now)
            conn.deferred.append((pdu, response))
            return
        session.send_response(pdu, response)
        if receipt is not None:
            if not self._schedule.push(now + config.receipt_delay, receipt):
                stats.receipts_overflow += 1
            elif self._schedule.next_due() == now + config.receipt_delay:
                self._receipt_wake.set()

    def _make_receipt(self, submit: SubmitSm, number: int, message_id: str, origin: int) -> _Outbound | None:
        wanted = submit.registered_delivery & REGISTERED_DELIVERY_RECEIPT_MASK
        if not wanted:
            return None
        state = self._mix.pick()
        if wanted != REGISTERED_DELIVERY_RECEIPT_ALWAYS:
            if wanted != REGISTERED_DELIVERY_RECEIPT_ON_FAILURE or state == "DELIVRD":
                return None
        config = self.config
        id_format = config.receipt_id_format
        receipt_id = message_id if id_format == "same" else format_id(number, id_format)
        pdu = DeliverSm(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=ESM_CLASS_DELIVERY_RECEIPT,
        )
        if config.receipts_in != "tlv":
            moment = receipt_minute(self.wall_clock(), None)  # the SMSC's local time, as carriers do
            try:
                original = decode_text(submit.short_message, submit.data_coding)
            except DataCodingError:
                original = ""
            text = format_receipt(
                receipt_id, 1, 1 if state == "DELIVRD" else 0, moment, moment, state,
                0 if state == "DELIVRD" else 1, original,
            )
            pdu.short_message = text.encode("ascii", "replace")
        if config.receipts_in != "text":
            pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] = receipt_id
            pdu.tlvs[Tag.MESSAGE_STATE] = int(STATE_BY_STAT[state])
        return _Outbound(pdu, "receipt", state, origin)

    def _on_deliver_resp(self, conn: _Connection, event: ResponseReceived, now: float) -> None:
        item = conn.outstanding.pop(event.request.sequence_number, None)
        status = event.response.command_status
        statuses = self._stats.deliver_resp_statuses
        statuses[status] = statuses.get(status, 0) + 1
        if item is None:
            return
        if status == 0:
            self._count_delivered(item)
        else:
            self._retry_later(item, now)

    def _count_delivered(self, item: _Outbound) -> None:
        if item.kind == "receipt":
            sent = self._stats.receipts_sent
            sent[item.state] = sent.get(item.state, 0) + 1

    def _retry_later(self, item: _Outbound, now: float) -> None:
        if item.attempts >= DELIVER_ATTEMPTS:
            log.warning("sim.deliver_dropped", kind=item.kind, attempts=item.attempts)
            return
        if not self._schedule.push(now + DELIVER_RETRY_DELAY, item):
            self._stats.receipts_overflow += 1
        self._receipt_wake.set()

    async def _delay_line(self, conn: _Connection, scope: trio.CancelScope) -> None:
        try:
            await conn.run_delay_line()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            scope.cancel()

    async def _writer(self, conn: _Connection, scope: trio.CancelScope) -> None:
        """Sends this connection's deliver_sm and expires the unanswered ones."""
        session = conn.session
        clock = self.clock
        try:
            while True:
                conn.wake = trio.Event()
                now = clock()
                for event in session.poll(now):
                    if type(event) is RequestTimedOut:
                        item = conn.outstanding.pop(event.request.sequence_number, None)
                        if item is not None:
                            self._retry_later(item, now)
                conn.pump(now)
                await conn.flush()
                if conn.wake.is_set():
                    continue
                deadline = session.next_deadline()
                with trio.move_on_at(deadline if deadline is not None else now + 1.0):
                    await conn.wake.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            scope.cancel()

    # ------------------------------------------------------------ receipts and MO

    async def _receipt_loop(self) -> None:
        schedule = self._schedule
        clock = self.clock
        while True:
            self._receipt_wake = trio.Event()
            await self._wait_out_stall()
            now = clock()
            due = schedule.pop_due(now)
            if due:
                self._dispatch(due, now)
                await trio.sleep(RECEIPT_TICK)
                continue
            next_due = schedule.next_due()
            with trio.move_on_at(next_due if next_due is not None else now + 1.0):
                await self._receipt_wake.wait()
            if next_due is not None and clock() < next_due:
                continue

    def _dispatch(self, items: list[_Outbound], now: float) -> None:
        """Hand deliver_sm to receiver connections (the originating one when it can)."""
        receivers = [c for c in self._connections.values() if c.can_receive and not c.closed]
        if not receivers:
            room = self.config.max_pending_receipts - len(self._orphans)
            self._orphans.extend(items[: max(0, room)])
            self._stats.receipts_overflow += max(0, len(items) - max(0, room))
            return
        touched: set[_Connection] = set()
        by_id = self._connections
        for item in items:
            conn = by_id.get(item.origin)
            if conn is None or not conn.can_receive or conn.closed:
                self._round_robin = (self._round_robin + 1) % len(receivers)
                conn = receivers[self._round_robin]
            conn.backlog.append(item)
            touched.add(conn)
        for conn in touched:
            conn.wake.set()

    def _rehome(self, conn: _Connection) -> None:
        """A connection ended: what it still owed (backlog, unanswered) goes elsewhere."""
        items = list(conn.backlog) + list(conn.outstanding.values())
        conn.backlog.clear()
        conn.outstanding.clear()
        conn.session.drain_outstanding()
        if items:
            self._dispatch(items, self.clock())

    async def _wait_out_stall(self) -> None:
        while self.clock() < self._stalled_until:
            await trio.sleep_until(self._stalled_until)


# ---------------------------------------------------------------- helpers


def _describe_submit(entry: _Received) -> dict[str, Any]:
    pdu = entry.pdu
    try:
        text = decode_text(pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) or pdu.short_message, pdu.data_coding)
    except DataCodingError:
        text = None
    return {
        "message_id": entry.message_id,
        "connection": entry.connection,
        "source": pdu.source_addr,
        "destination": pdu.destination_addr,
        "data_coding": pdu.data_coding,
        "esm_class": pdu.esm_class,
        "registered_delivery": pdu.registered_delivery,
        "short_message": pdu.short_message.hex(),
        "text": text,
        "tlvs": {f"0x{tag:04X}": (v.hex() if isinstance(v, bytes) else v) for tag, v in pdu.tlvs.items()},
        "time": entry.time,
    }


def _peer_name(stream: trio.abc.Stream) -> str:
    inner = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    try:
        host, port = inner.socket.getpeername()[:2]  # type: ignore[attr-defined]
        inner.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
        return f"{host}:{port}"
    except (OSError, AttributeError):
        return "?"


def _close_now(stream: trio.abc.Stream) -> None:
    inner = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    sock = getattr(inner, "socket", None)
    if sock is not None:
        sock.close()
