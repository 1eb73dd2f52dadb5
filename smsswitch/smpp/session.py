"""One SMPP connection as a sans-IO state machine, for either end (ESME or SMSC).

Bytes and the caller's clock go in; events and bytes come out. No sockets, no clock reads,
no tasks: the same object drives our tenant-facing server (role SMSC) and our carrier
connectors (role ESME). Which PDU is legal when, and how binds/unbinds move the state, is
decided only by `_state_table`; this module does the bookkeeping around it (framing,
sequence numbers, the window of outstanding requests, who still owes whom a response,
keepalive timers).

Typical use, whatever the role::

    events = session.receive_data(chunk, now)   # b"" when the peer closed
    ... handle events, session.send_request(pdu, now) / session.send_response(req, resp) ...
    events += session.poll(now)                 # timeouts, enquire_link due
    sock.send(session.data_to_send())           # everything queued, in one write
    sleep until session.next_deadline() or data arrives

Times are floats in any monotonic unit (trio.current_time() seconds in practice).
"""

from __future__ import annotations

import struct

from smsswitch.smpp._state_table import (
    BINDING,
    BOUND_STATES,
    CLOSED,
    CONTROL_REQUESTS,
    ON_REQUEST,
    ON_RESPONSE_ERROR,
    ON_RESPONSE_OK,
    OPEN,
    RULES,
    UNANSWERED_REQUESTS,
    Role,
    SessionState,
)
from smsswitch.smpp.codec import decode_pdu, encode_pdu
from smsswitch.smpp.constants import (
    HEADER_LENGTH,
    RESPONSE_BIT,
    SEQUENCE_NUMBER_MAX,
    SEQUENCE_NUMBER_MIN,
    CommandId,
    CommandStatus,
)
from smsswitch.smpp.errors import FramingError, PduError
from smsswitch.smpp.events import (
    BindFailed,
    BindRequested,
    Bound,
    Closed,
    EnquireLinkDue,
    EnquireLinkOverdue,
    Event,
    IdleTimeout,
    NotificationReceived,
    ProtocolFatal,
    Refused,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    UnbindRequested,
    Unbound,
    UnexpectedResponse,
)
from smsswitch.smpp.framer import Framer
from smsswitch.smpp.pdu import PDU_CLASSES, EnquireLink, Pdu

__all__ = ["Session", "Role", "SessionState", "LocalProtocolError", "WindowFull"]

_HEADER = struct.Struct(">IIII")
_pack_header = _HEADER.pack
_unpack_header = _HEADER.unpack_from

_GENERIC_NACK = int(CommandId.GENERIC_NACK)
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_ENQUIRE_LINK_RESP = int(CommandId.ENQUIRE_LINK_RESP)
_UNBIND = int(CommandId.UNBIND)
_ROK = int(CommandStatus.ESME_ROK)
_RINVCMDID = int(CommandStatus.ESME_RINVCMDID)
_RINVCMDLEN = int(CommandStatus.ESME_RINVCMDLEN)
_RTHROTTLED = int(CommandStatus.ESME_RTHROTTLED)


class LocalProtocolError(Exception):
    """We tried to send something SMPP forbids now; nothing was queued.

    `status` is what a strict peer would have refused it with.
    """

    def __init__(self, message: str, status: int = CommandStatus.ESME_RINVBNDSTS) -> None:
        super().__init__(message)
        self.status = status


class WindowFull(LocalProtocolError):
    """`window` requests are already awaiting their responses; wait for one (or a timeout)."""

    def __init__(self, window: int) -> None:
        super().__init__(f"window of {window} outstanding requests is full", CommandStatus.ESME_RTHROTTLED)


class Session:
    """Per-connection SMPP 3.4 session machine; see the module docstring for the loop."""

    __slots__ = (
        "role", "peer_role", "window", "response_timeout", "enquire_link_interval",
        "idle_timeout", "auto_enquire_link_resp", "peer_window",
        "_state", "_send_rules", "_recv_rules", "_framer", "_out", "_next_seq",
        "_outstanding", "_inbound", "_last_activity", "_last_received", "_idle_reported",
    )

    def __init__(
        self,
        role: Role,
        *,
        max_command_length: int = 65536,
        window: int = 10,
        response_timeout: float = 30.0,
        enquire_link_interval: float | None = 30.0,
        idle_timeout: float | None = None,
        auto_enquire_link_resp: bool = True,
        peer_window: int | None = None,
        first_sequence_number: int = SEQUENCE_NUMBER_MIN,
        now: float | None = None,
    ) -> None:
        """`window`: our outstanding requests at most. `peer_window`: the peer's unanswered
        requests at most; beyond it they are refused ESME_RTHROTTLED (None: the app bounds
        them). `enquire_link_interval`/`idle_timeout` None disables that timer. `now`: when
        the connection opened (starts the idle clock); else the clocks start with the first
        call that brings a time."""
        if window < 1:
            raise ValueError("window must be at least 1")
        if not SEQUENCE_NUMBER_MIN <= first_sequence_number <= SEQUENCE_NUMBER_MAX:
            raise ValueError("first_sequence_number outside 1..0x7FFFFFFF")
        self.role = role
        self.peer_role = Role.SMSC if role is Role.ESME else Role.ESME
        self.window = window
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.idle_timeout = idle_timeout
        self.auto_enquire_link_resp = auto_enquire_link_resp
        self.peer_window = peer_window
        self._framer = Framer(max_command_length)
        self._out: list[bytes] = []
        self._next_seq = first_sequence_number
        # seq -> (request, sent_at). Insertion order is deadline order (one timeout for all).
        self._outstanding: dict[int, tuple[Pdu, float]] = {}
        # id(request) -> request: received requests the app has not answered yet.
        self._inbound: dict[int, Pdu] = {}
        self._last_activity: float | None = now
        self._last_received: float | None = now
        self._idle_reported = False
        self._enter(OPEN)

    # ------------------------------------------------------------ state

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_bound(self) -> bool:
        return self._state in BOUND_STATES

    @property
    def outstanding(self) -> int:
        """Our requests awaiting a response."""
        return len(self._outstanding)

    @property
    def window_free(self) -> int:
        return self.window - len(self._outstanding)

    @property
    def last_received(self) -> float | None:
        """When the peer's last whole PDU arrived (None before anything did)."""
        return self._last_received

    @property
    def unanswered(self) -> int:
        """The peer's requests the application has not answered yet."""
        return len(self._inbound)

    def in_window(self, sequence_number: int) -> bool:
        return sequence_number in self._outstanding

    def _enter(self, state: SessionState) -> None:
        self._state = state
        self._send_rules = RULES[state][self.role]
        self._recv_rules = RULES[state][self.peer_role]

    def close(self) -> None:
        """The caller is closing the connection (after ProtocolFatal, overdue keepalive, ...).
        Our outstanding requests stay for drain_outstanding()."""
        self._enter(CLOSED)
        self._inbound.clear()

    def drain_outstanding(self) -> list[Pdu]:
        """Remove and return our unanswered requests so the caller can requeue them.
        Session-control requests (bind, unbind, enquire_link) are dropped: nothing to redo."""
        requests = [req for req, _ in self._outstanding.values() if req.command_id not in CONTROL_REQUESTS]
        self._outstanding.clear()
        return requests

    # ------------------------------------------------------------ sending

    def send_request(self, pdu: Pdu, now: float) -> int:
        """Queue `pdu` with the next free sequence number and return that number.

        Raises LocalProtocolError if our role may not send it in this state, WindowFull if
        `window` requests are outstanding, PduEncodeError for unencodable values.
        """
        command_id = pdu.command_id
        if pdu.is_response:
            raise LocalProtocolError(
                f"{type(pdu).__name__} is a response: use send_response", _RINVCMDID
            )
        refusal = self._send_rules.get(command_id)
        if refusal:
            raise LocalProtocolError(
                f"{type(pdu).__name__} may not be sent by {self.role.value} in {self._state.value}",
                refusal,
            )
        answered = command_id not in UNANSWERED_REQUESTS
        outstanding = self._outstanding
        if answered and len(outstanding) >= self.window:
            raise WindowFull(self.window)
        seq = self._next_seq
        while seq in outstanding:
            seq = seq + 1 if seq < SEQUENCE_NUMBER_MAX else SEQUENCE_NUMBER_MIN
        self._next_seq = seq + 1 if seq < SEQUENCE_NUMBER_MAX else SEQUENCE_NUMBER_MIN
        pdu.sequence_number = seq
        self._out.append(encode_pdu(pdu))
        if answered:
            outstanding[seq] = (pdu, now)
        new_state = ON_REQUEST.get(command_id)
        if new_state is not None:
            self._enter(new_state)
        # Sending proves nothing about the peer: only what it sends us postpones the keepalive
        # (a carrier that went silent while we keep retrying into it must get an enquire_link).
        if self._last_activity is None:
            self._last_activity = now
        if self._last_received is None:
            self._last_received = now
        return seq

    def send_enquire_link(self, now: float) -> int:
        """Keepalive shortcut for EnquireLinkDue."""
        return self.send_request(EnquireLink(), now)

    def send_response(self, request: Pdu, response: Pdu) -> None:
        """Answer `request` (as delivered in a RequestReceived event) with `response`: its
        own *_resp or a GenericNack. sequence_number is set here. Answering a bind ESME_ROK
        binds the session; answering an unbind closes it.

        Raises LocalProtocolError for a request that is not ours to answer (never received,
        already answered) or a response of the wrong type. After CLOSED it is a no-op: the
        connection is gone and so is the obligation.
        """
        if self._state is CLOSED:
            return
        key = id(request)
        if self._inbound.get(key) is not request:
            raise LocalProtocolError(
                f"{type(request).__name__} seq={request.sequence_number} was not received"
                " or is already answered", _RINVCMDID,
            )
        response_id = response.command_id
        request_id = request.command_id
        if response_id != request_id | RESPONSE_BIT and response_id != _GENERIC_NACK:
            raise LocalProtocolError(
                f"{type(response).__name__} does not answer {type(request).__name__}", _RINVCMDID
            )
        response.sequence_number = request.sequence_number
        self._out.append(encode_pdu(response))
        del self._inbound[key]
        if request_id in ON_RESPONSE_OK:
            ok = response.command_status == _ROK and response_id != _GENERIC_NACK
            new_state = ON_RESPONSE_OK[request_id] if ok else ON_RESPONSE_ERROR[request_id]
            if new_state is CLOSED:
                self.close()
            else:
                self._enter(new_state)

    @property
    def has_data_to_send(self) -> bool:
        """True when data_to_send() would return bytes (a cheap check before a write)."""
        return bool(self._out)

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, to be written in one send."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # ------------------------------------------------------------ receiving

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the socket (b"" = the peer closed); return what happened.

        Illegal, undecodable and unknown PDUs are answered here (see data_to_send) and
        reported as Refused; the application sees only legal work and signals.
        """
        events: list[Event] = []
        if self._state is CLOSED:
            return events
        if not data:
            self.close()
            events.append(Closed())
            return events
        try:
            frames = self._framer.feed(data)
        except FramingError as exc:
            self._receive_frames(exc.frames, now, events)
            if self._state is not CLOSED:
                self._out.append(_pack_header(HEADER_LENGTH, _GENERIC_NACK, _RINVCMDLEN, exc.sequence_number))
                self.close()
                events.append(ProtocolFatal(exc.message))
            return events
        if frames:
            # Only whole PDUs count as activity: a peer trickling a byte a second (slowloris)
            # must still reach the idle timeout and the keepalive.
            self._last_received = self._last_activity = now
            self._idle_reported = False
        self._receive_frames(frames, now, events)
        return events

    def _receive_frames(self, frames: list[bytes], now: float, events: list[Event]) -> None:
        on_response = self._on_response
        on_request = self._on_request
        for frame in frames:
            _, command_id, _, seq = _unpack_header(frame)
            if command_id & RESPONSE_BIT:
                on_response(frame, command_id, seq, now, events)
            else:
                on_request(frame, command_id, seq, events)
            if self._state is CLOSED:
                return  # anything after unbind_resp or a fatal error is not ours to handle

    def _on_request(self, frame: bytes, command_id: int, seq: int, events: list[Event]) -> None:
        refusal = self._recv_rules.get(command_id)
        if refusal is None:
            self._out.append(_pack_header(HEADER_LENGTH, _GENERIC_NACK, _RINVCMDID, seq))
            events.append(Refused(command_id, seq, _RINVCMDID, True))
            return
        if refusal:
            self._refuse(command_id, seq, refusal, False, events)
            return
        if command_id == _ENQUIRE_LINK and self.auto_enquire_link_resp:
            self._out.append(_pack_header(HEADER_LENGTH, _ENQUIRE_LINK_RESP, _ROK, seq))
            return
        if (
            self.peer_window is not None
            and len(self._inbound) >= self.peer_window
            and command_id not in CONTROL_REQUESTS
        ):
            self._refuse(command_id, seq, _RTHROTTLED, False, events)
            return
        try:
            pdu = decode_pdu(frame)
        except PduError as exc:
            self._refuse(command_id, seq, int(exc.status), exc.generic_nack, events)
            return
        if command_id in UNANSWERED_REQUESTS:
            events.append(NotificationReceived(pdu))
            return
        self._inbound[id(pdu)] = pdu
        new_state = ON_REQUEST.get(command_id)
        if new_state is None:
            events.append(RequestReceived(pdu))
            return
        self._enter(new_state)
        events.append(BindRequested(pdu) if new_state is BINDING else UnbindRequested(pdu))

    def _refuse(self, command_id: int, seq: int, status: int, generic_nack: bool, events: list[Event]) -> None:
        response_class = None if generic_nack else PDU_CLASSES.get(command_id | RESPONSE_BIT)
        if response_class is None:
            generic_nack = True
            self._out.append(_pack_header(HEADER_LENGTH, _GENERIC_NACK, status, seq))
        else:
            self._out.append(encode_pdu(response_class(sequence_number=seq, command_status=status)))
        events.append(Refused(command_id, seq, status, generic_nack))

    def _on_response(
        self, frame: bytes, command_id: int, seq: int, now: float, events: list[Event]
    ) -> None:
        try:
            response = decode_pdu(frame)
        except PduError as exc:
            # Never answer a generic_nack (two peers would nack each other forever); other
            # malformed responses get generic_nack. The request stays until its timeout.
            answered = command_id != _GENERIC_NACK
            if answered:
                self._out.append(_pack_header(HEADER_LENGTH, _GENERIC_NACK, int(exc.status), seq))
            events.append(Refused(command_id, seq, int(exc.status), True, answered))
            return
        entry = self._outstanding.get(seq)
        if entry is None or (
            command_id != _GENERIC_NACK and command_id != entry[0].command_id | RESPONSE_BIT
        ):
            events.append(UnexpectedResponse(response))
            return
        del self._outstanding[seq]
        request, sent_at = entry
        request_id = request.command_id
        if request_id not in ON_RESPONSE_OK:
            events.append(ResponseReceived(response, request, now - sent_at))
            return
        ok = response.command_status == _ROK and command_id != _GENERIC_NACK
        new_state = ON_RESPONSE_OK[request_id] if ok else ON_RESPONSE_ERROR[request_id]
        if request_id == _UNBIND:
            self.close()
            events.append(Unbound(response))
        elif ok:
            self._enter(new_state)
            events.append(Bound(new_state, response))
        else:
            self._enter(new_state)
            events.append(BindFailed(response.command_status, response))

    # ------------------------------------------------------------ time

    def poll(self, now: float) -> list[Event]:
        """Timers: expired requests, keepalive due/overdue, peer idle. Call it whenever
        next_deadline() has passed (calling it more often is harmless)."""
        events: list[Event] = []
        if self._state is CLOSED:
            return events
        outstanding = self._outstanding
        overdue = False
        if outstanding:
            timeout = self.response_timeout
            expired = []
            for seq, (_, sent_at) in outstanding.items():
                if sent_at + timeout > now:
                    break
                expired.append(seq)
            for seq in expired:
                request = outstanding.pop(seq)[0]
                request_id = request.command_id
                if request_id == _ENQUIRE_LINK:
                    overdue = True
                    events.append(EnquireLinkOverdue(request))
                else:
                    events.append(RequestTimedOut(request))
                new_state = ON_RESPONSE_ERROR.get(request_id)
                if new_state is CLOSED:
                    self.close()
                    return events
                if new_state is not None:
                    self._enter(new_state)
        interval = self.enquire_link_interval
        if interval is not None and self._state in BOUND_STATES:
            if self._last_activity is None:
                self._last_activity = now
            elif self._last_activity + interval <= now:
                self._last_activity = now  # next signal one interval later, even if ignored
                if not overdue and not any(
                    req.command_id == _ENQUIRE_LINK for req, _ in outstanding.values()
                ):
                    events.append(EnquireLinkDue())
        idle_timeout = self.idle_timeout
        if idle_timeout is not None:
            if self._last_received is None:
                self._last_received = now
            elif not self._idle_reported and self._last_received + idle_timeout <= now:
                self._idle_reported = True
                events.append(IdleTimeout(now - self._last_received))
        return events

    def next_deadline(self) -> float | None:
        """When poll() next has something to report (None: nothing timed is pending)."""
        if self._state is CLOSED:
            return None
        deadline = None
        if self._outstanding:
            deadline = next(iter(self._outstanding.values()))[1] + self.response_timeout
        if (
            self.enquire_link_interval is not None
            and self._last_activity is not None
            and self._state in BOUND_STATES
        ):
            due = self._last_activity + self.enquire_link_interval
            if deadline is None or due < deadline:
                deadline = due
        if self.idle_timeout is not None and self._last_received is not None and not self._idle_reported:
            idle = self._last_received + self.idle_timeout
            if deadline is None or idle < deadline:
                deadline = idle
        return deadline
