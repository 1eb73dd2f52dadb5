"""Every rule that decides SMPP session legality and bind-state transitions, as tables.

Like h11's `_state.py`: this file is the single place that says which PDU is legal in which
bind state, what status refuses an illegal one, and how binds and unbinds move the state.
The table is keyed by the *sender's* role, never by "us" or "them", so our tenant-facing
server (role SMSC) and our carrier connectors (role ESME) are held to the same rules: a
session checks what it sends with `RULES[state][own role]` and what it receives with
`RULES[state][peer role]`.

Choices where SMPP 3.4 table 2-1 is stricter than real gateways (we follow the gateways):
- enquire_link is legal in OPEN, BINDING and UNBOUND too (3.4 says bound states only;
  SMPP 5.0 and most SMSCs answer it in any state, and some ESMEs probe before binding).
- data_sm is direction-aware as in SMPP 5.0: from the ESME on TX/TRX binds, from the SMSC
  on RX/TRX binds (3.4's table lists all bound states for both, which would let a receiver
  bind submit traffic).
- unbind is legal in UNBOUND as well, so crossing unbinds (both sides at once) both get
  their unbind_resp instead of an error.
BINDING is a state the 3.4 text leaves implicit: a bind was sent/received and its response
is pending. A second bind then is refused with ESME_RALYBND, like a bind on a bound session.
"""

from __future__ import annotations

from enum import Enum

from smsswitch.smpp.constants import CommandId as C
from smsswitch.smpp.constants import CommandStatus as S


class Role(Enum):
    """Which end of the SMPP connection a party is."""

    ESME = "esme"
    SMSC = "smsc"


class SessionState(Enum):
    """Bind state of one SMPP connection, the same for both ends."""

    OPEN = "open"  # connected, not bound
    BINDING = "binding"  # bind_* sent/received, its response pending
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"  # unbind sent/received, unbind_resp pending
    CLOSED = "closed"


OPEN = SessionState.OPEN
BINDING = SessionState.BINDING
BOUND_TX = SessionState.BOUND_TX
BOUND_RX = SessionState.BOUND_RX
BOUND_TRX = SessionState.BOUND_TRX
UNBOUND = SessionState.UNBOUND
CLOSED = SessionState.CLOSED
ESME = Role.ESME
SMSC = Role.SMSC

BOUND_STATES = frozenset({BOUND_TX, BOUND_RX, BOUND_TRX})
_ANY_LIVE = frozenset({OPEN, BINDING, BOUND_TX, BOUND_RX, BOUND_TRX, UNBOUND})
_TX_SIDE = frozenset({BOUND_TX, BOUND_TRX})
_RX_SIDE = frozenset({BOUND_RX, BOUND_TRX})
_BIND_COMMANDS = (C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER)

#: request command_id -> sender role -> states in which that sender may issue it.
#: A request absent for a sender is never legal from that sender.
LEGAL_REQUESTS: dict[int, dict[Role, frozenset[SessionState]]] = {
    C.BIND_TRANSMITTER: {ESME: frozenset({OPEN})},
    C.BIND_RECEIVER: {ESME: frozenset({OPEN})},
    C.BIND_TRANSCEIVER: {ESME: frozenset({OPEN})},
    C.OUTBIND: {SMSC: frozenset({OPEN})},
    C.SUBMIT_SM: {ESME: _TX_SIDE},
    C.SUBMIT_MULTI: {ESME: _TX_SIDE},
    C.QUERY_SM: {ESME: _TX_SIDE},
    C.CANCEL_SM: {ESME: _TX_SIDE},
    C.REPLACE_SM: {ESME: _TX_SIDE},
    C.DELIVER_SM: {SMSC: _RX_SIDE},
    C.ALERT_NOTIFICATION: {SMSC: _RX_SIDE},
    C.DATA_SM: {ESME: _TX_SIDE, SMSC: _RX_SIDE},
    C.ENQUIRE_LINK: {ESME: _ANY_LIVE, SMSC: _ANY_LIVE},
    C.UNBIND: {ESME: BOUND_STATES | {UNBOUND}, SMSC: BOUND_STATES | {UNBOUND}},
}

#: Requests that have no response PDU: they are surfaced, never answered.
UNANSWERED_REQUESTS = frozenset({C.OUTBIND, C.ALERT_NOTIFICATION})

#: Session-control requests: never requeued when a connection dies with them outstanding.
CONTROL_REQUESTS = frozenset({*_BIND_COMMANDS, C.UNBIND, C.ENQUIRE_LINK})


def refusal_status(state: SessionState, sender: Role, command_id: int) -> int | None:
    """ESME_ROK (0) if `sender` may issue request `command_id` in `state`, else the refusing
    status; None for a command id SMPP 3.4 does not define as a request (answer generic_nack
    ESME_RINVCMDID)."""
    by_sender = LEGAL_REQUESTS.get(command_id)
    if by_sender is None:
        return None
    if state in by_sender.get(sender, ()):
        return S.ESME_ROK
    if command_id in _BIND_COMMANDS and sender is ESME and (state is BINDING or state in BOUND_STATES):
        return S.ESME_RALYBND
    return S.ESME_RINVBNDSTS


def _compile() -> dict[SessionState, dict[Role, dict[int, int]]]:
    rules: dict[SessionState, dict[Role, dict[int, int]]] = {}
    for state in SessionState:
        rules[state] = {}
        for sender in Role:
            rules[state][sender] = {
                int(cid): int(refusal_status(state, sender, cid) or 0) for cid in LEGAL_REQUESTS
            }
    return rules


#: RULES[state][sender] -> {request command_id: status}; 0 = legal. Precompiled so that the
#: per-PDU check is one dict.get on a plain int; ids missing from it are unknown commands.
RULES = _compile()

# ---------------------------------------------------------------- transitions

#: Legal request (sent or received) -> the state it moves to.
ON_REQUEST: dict[int, SessionState] = {
    C.BIND_TRANSMITTER: BINDING,
    C.BIND_RECEIVER: BINDING,
    C.BIND_TRANSCEIVER: BINDING,
    C.UNBIND: UNBOUND,
}

#: Request command_id -> state once it is answered ESME_ROK (response sent or received).
ON_RESPONSE_OK: dict[int, SessionState] = {
    C.BIND_TRANSMITTER: BOUND_TX,
    C.BIND_RECEIVER: BOUND_RX,
    C.BIND_TRANSCEIVER: BOUND_TRX,
    C.UNBIND: CLOSED,
}

#: Request command_id -> state once it is refused (error status, generic_nack) or times out.
#: A failed bind returns to OPEN (the ESME may retry); a failed unbind still ends the session.
ON_RESPONSE_ERROR: dict[int, SessionState] = {
    C.BIND_TRANSMITTER: OPEN,
    C.BIND_RECEIVER: OPEN,
    C.BIND_TRANSCEIVER: OPEN,
    C.UNBIND: CLOSED,
}
