"""How a connector reads a submit_sm_resp status: done, slow down and retry, retry, or final.

Carriers use only a handful of statuses for "not now"; everything else is the message's fault
and retrying it would just be refused again (and billed, on some carriers).
"""

from __future__ import annotations

import enum

from smsswitch.smpp.constants import CommandStatus as S


class StatusKind(enum.Enum):
    OK = "ok"
    THROTTLE = "throttle"  # the carrier is over capacity: slow the whole connector down
    TRANSIENT = "transient"  # retry the job (on any session), counts against max_attempts
    PERMANENT = "permanent"  # the carrier refused this message: REJECTED


THROTTLE_STATUSES = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
TRANSIENT_STATUSES = frozenset({S.ESME_RSYSERR, S.ESME_RINVBNDSTS, S.ESME_RX_T_APPN})


def classify(status: int) -> StatusKind:
    if status == 0:
        return StatusKind.OK
    if status in THROTTLE_STATUSES:
        return StatusKind.THROTTLE
    if status in TRANSIENT_STATUSES:
        return StatusKind.TRANSIENT
    return StatusKind.PERMANENT


def status_name(status: int) -> str:
    """'ESME_RTHROTTLED' for known statuses, '0x000000A1' otherwise (for logs and details)."""
    try:
        return S(status).name
    except ValueError:
        return f"0x{status:08X}"
