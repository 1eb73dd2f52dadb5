"""API errors as one JSON shape with stable codes, so clients branch on `code`, not on prose.

    {"error": {"code": "invalid_destination", "message": "...", "smppStatus": "ESME_RINVDSTADR"}}

Handlers raise `ApiError`; the app turns it (and Starlette's own 404/405) into that body.
SMPP statuses from validation and the core map to HTTP here, in one table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response

from smsswitch.smpp.constants import CommandStatus

S = CommandStatus


class ApiError(Exception):
    """An error answer: HTTP status, stable code, human message, optional extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None,
        smpp_status: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.smpp_status = smpp_status

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.headers, self.smpp_status)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, smpp_status: int | None = None
) -> Response:
    error: dict[str, object] = {"code": code, "message": message}
    if smpp_status is not None:
        error["smppStatus"] = _status_name(smpp_status)
    body = json.dumps({"error": error}, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=dict(headers or {}), media_type="application/json")


def _status_name(status: int) -> str:
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


#: SMPP status → (HTTP status, code, message). Anything else: 422 "rejected".
_BY_STATUS: dict[int, tuple[int, str, str]] = {
    S.ESME_RINVDSTADR: (400, "invalid_destination", "'to' is not a deliverable phone number or short code"),
    S.ESME_RINVDSTTON: (400, "invalid_destination", "'to' has an unsupported type of number"),
    S.ESME_RINVDSTNPI: (400, "invalid_destination", "'to' has an unsupported numbering plan"),
    S.ESME_RINVSRCADR: (400, "invalid_sender", "'from' is not valid or not allowed for this tenant"),
    S.ESME_RINVSRCTON: (400, "invalid_sender", "'from' has an unsupported type of number"),
    S.ESME_RINVSRCNPI: (400, "invalid_sender", "'from' has an unsupported numbering plan"),
    S.ESME_RINVDCS: (400, "invalid_data_coding", "'dataCoding' is not supported"),
    S.ESME_RINVMSGLEN: (400, "invalid_text", "the text cannot be sent in this data coding"),
    S.ESME_RINVEXPIRY: (400, "invalid_validity", "'validityPeriod' is out of range"),
    S.ESME_RINVSCHED: (400, "invalid_schedule", "the schedule time is not valid"),
    S.ESME_RX_R_APPN: (422, "recipient_opted_out", "the recipient opted out of this tenant's messages"),
    S.ESME_RTHROTTLED: (429, "throttled", "too many messages per second for this tenant"),
    S.ESME_RMSGQFUL: (503, "queue_full", "the switch is refusing new messages for now; retry later"),
    S.ESME_RSYSERR: (503, "unavailable", "the message could not be stored; retry later"),
    S.ESME_RSUBMITFAIL: (503, "no_connector", "no carrier connector is available for this route"),
}
_RETRY_AFTER = {429: "1", 503: "5"}


def submit_error(status: int) -> ApiError:
    """The error for a refused submit (validation or the core's answer)."""
    http, code, message = _BY_STATUS.get(status, (422, "rejected", "the switch refused this message"))
    headers = {"Retry-After": _RETRY_AFTER[http]} if http in _RETRY_AFTER else None
    return ApiError(http, code, message, headers=headers, smpp_status=status)
