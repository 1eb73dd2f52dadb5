"""What a Session reports to the code that drives it: one small frozen value per happening.

The application only ever sees legal work (RequestReceived and its bind/unbind variants,
ResponseReceived, NotificationReceived) plus signals; everything the protocol can settle by
itself (illegal PDUs, undecodable PDUs, unknown commands) is already answered on the wire and
only reported, as Refused, so it can be counted.
"""

from __future__ import annotations


from attrs import frozen

from smsswitch.smpp._state_table import SessionState
from smsswitch.smpp.pdu import Pdu


class Event:
    """Base of every session event (for isinstance checks and type hints)."""

    __slots__ = ()


# ---------------------------------------------------------------- received work


@frozen(slots=True)
class RequestReceived(Event):
    """A legal request from the peer; answer it exactly once with Session.send_response."""

    pdu: Pdu


@frozen(slots=True)
class BindRequested(RequestReceived):
    """A bind_* from the ESME (SMSC side): authenticate, then answer with a bind_*_resp."""


@frozen(slots=True)
class UnbindRequested(RequestReceived):
    """The peer unbinds: answer unbind_resp (the session is then CLOSED)."""


@frozen(slots=True)
class NotificationReceived(Event):
    """A legal request that has no response PDU (outbind, alert_notification)."""

    pdu: Pdu


@frozen(slots=True)
class ResponseReceived(Event):
    """A response (or a generic_nack) to one of our outstanding requests; latency in the
    caller's time unit. Check `response.command_status`: non-zero means the request failed."""

    response: Pdu
    request: Pdu
    latency: float


@frozen(slots=True)
class UnexpectedResponse(Event):
    """A response that answers nothing outstanding (late, duplicate, wrong type): dropped."""

    response: Pdu


@frozen(slots=True)
class Refused(Event):
    """A received PDU the session answered by itself with `status` (as its own *_resp, or
    as generic_nack when `generic_nack`). Only the header is reported: refused PDUs are not
    decoded when the header alone condemns them. `answered` is False for PDUs that must not
    be answered (a malformed generic_nack)."""

    command_id: int
    sequence_number: int
    status: int
    generic_nack: bool
    answered: bool = True


# ---------------------------------------------------------------- bind state


@frozen(slots=True)
class Bound(Event):
    """Our bind was accepted (ESME side): the session is now in `state`."""

    state: SessionState
    response: Pdu


@frozen(slots=True)
class BindFailed(Event):
    """Our bind was refused with `status` (or nacked); the session is OPEN again."""

    status: int
    response: Pdu


@frozen(slots=True)
class Unbound(Event):
    """Our unbind was answered: the session is CLOSED; close the socket."""

    response: Pdu


@frozen(slots=True)
class Closed(Event):
    """The peer closed the connection (receive_data(b"")): the session is CLOSED."""


@frozen(slots=True)
class ProtocolFatal(Event):
    """The byte stream cannot be framed any more; generic_nack is queued, the session is
    CLOSED: send data_to_send() and close the socket."""

    reason: str


# ---------------------------------------------------------------- timers (from poll)


@frozen(slots=True)
class RequestTimedOut(Event):
    """No response to `request` within response_timeout; it left the window (requeue it)."""

    request: Pdu


@frozen(slots=True)
class EnquireLinkDue(Event):
    """Nothing sent or received for enquire_link_interval: send an enquire_link now."""


@frozen(slots=True)
class EnquireLinkOverdue(Event):
    """Our enquire_link went unanswered for response_timeout: the link is dead, close and
    rebind."""

    request: Pdu


@frozen(slots=True)
class IdleTimeout(Event):
    """The peer has sent nothing for `idle_for` (longer than idle_timeout)."""

    idle_for: float
