"""The OpenAPI 3.0 document served at /openapi.json. tests/http/test_openapi.py keeps it
true: every route is documented and every documented route exists, and a schemathesis run
checks the answers against these schemas."""

from __future__ import annotations

from typing import Any

from smsswitch.http.events import EVENT_TYPES, SCHEMA_VERSION
from smsswitch.http.submit import MAX_ADDRESS, MAX_REFERENCE, MAX_TEXT, VALIDITY_MAX, VALIDITY_MIN

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "invalid request", 401: "missing or invalid API key", 403: "scope or address not allowed",
        404: "not found", 409: "conflict", 413: "body too large", 422: "refused", 429: "throttled",
        501: "not available", 503: "try again later",
    }  # fmt: skip
    return {str(s): _json("Error", text[s]) for s in statuses}


_AUTH = (401, 403, 429)
_NUMBER = {"type": "string", "minLength": 1, "maxLength": 32, "example": "+263771234567"}
_LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
_AFTER = {"name": "after", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
          "description": "the `next` value of the previous page"}  # fmt: skip
_NULLABLE_STRING = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "stable, machine-readable"},
            "message": {"type": "string"},
            "smppStatus": {"type": "string", "description": "the SMPP status an ESME would have got"}}}},
    },
    "MessageRequest": {
        "type": "object", "required": ["to", "from", "text"], "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "minLength": 1, "maxLength": MAX_ADDRESS, "example": "+263771234567"},
            "from": {"type": "string", "minLength": 1, "maxLength": MAX_ADDRESS, "example": "ACME"},
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            "dataCoding": {"type": "integer", "minimum": 0, "maximum": 255,
                           "description": "SMPP data_coding; default: GSM 03.38 when the text fits, else UCS2"},
            "callbackUrl": {"type": "string", "format": "uri", "maxLength": 2000,
                            "description": "where this message's receipt webhook goes (signed with the tenant's secret)"},
            "clientReference": {"type": "string", "minLength": 1, "maxLength": MAX_REFERENCE},
            "validityPeriod": {"type": "integer", "minimum": VALIDITY_MIN, "maximum": VALIDITY_MAX,
                               "description": "seconds"},
            "receipt": {"type": "boolean", "default": True},
        },
    },
    "MessageAccepted": {
        "type": "object", "required": ["messageId", "status", "parts"],
        "properties": {"messageId": {"type": "string"}, "status": {"type": "string", "enum": ["accepted"]},
                       "parts": {"type": "integer"}, "clientReference": _NULLABLE_STRING},
    },
    "Message": {
        "type": "object", "required": ["messageId", "status", "final", "history"],
        "properties": {
            "messageId": {"type": "string"},
            "status": {"type": "string", "enum": ["accepted", "queued", "submitted", "enroute", "delivered",
                                                   "undeliverable", "expired", "rejected", "deleted", "unknown"]},
            "final": {"type": "boolean"}, "fromNumber": {"type": "string"}, "toNumber": {"type": "string"},
            "createdAt": _TIME, "updatedAt": _TIME, "carrier": _NULLABLE_STRING,
            "errorCode": {"type": "integer", "nullable": True}, "clientReference": _NULLABLE_STRING,
            "parts": {"type": "integer"}, "attempts": {"type": "integer"},
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "status": {"type": "string"}, "at": _TIME, "detail": _NULLABLE_STRING}}},
        },
    },
    "Event": {
        "type": "object", "description": "a receipt or MO, as webhooks and /v1/events deliver it",
        "required": ["schemaVersion", "eventId", "type"],
        "properties": {
            "schemaVersion": {"type": "integer", "enum": [SCHEMA_VERSION]}, "eventId": {"type": "string"},
            "type": {"type": "string", "enum": list(EVENT_TYPES)}, "messageId": _NULLABLE_STRING,
            "fromNumber": _NULLABLE_STRING, "toNumber": _NULLABLE_STRING, "content": _NULLABLE_STRING,
            "timestamp": {**_TIME, "nullable": True}, "carrier": _NULLABLE_STRING, "status": _NULLABLE_STRING,
            "errorCode": {"type": "integer"}, "parts": {"type": "integer"}, "clientReference": _NULLABLE_STRING,
            "keyword": _NULLABLE_STRING, "submittedAt": {**_TIME, "nullable": True},
        },
    },
    "Suppression": {"type": "object", "required": ["number", "since"],
                    "properties": {"number": {"type": "string"}, "since": _TIME}},
    "SuppressionRequest": {"type": "object", "required": ["number"], "properties": {"number": _NUMBER}},
    "SuppressionList": {"type": "object", "required": ["items", "next"], "properties": {
        "items": {"type": "array", "items": _ref("Suppression")}, "next": _NULLABLE_STRING}},
    "EraseRequest": {"type": "object", "required": ["number"], "additionalProperties": False, "properties": {
        "number": _NUMBER, "keepOptOuts": {"type": "boolean", "default": False}}},
    "EraseResult": {"type": "object", "required": ["messages", "outbox", "deadLetters", "optOuts"],
                    "properties": {k: {"type": "integer"} for k in ("messages", "outbox", "deadLetters", "optOuts")}},
    "ReloadResult": {"type": "object", "required": ["result"], "properties": {"result": {"type": "string"}}},
    "RedriveResult": {"type": "object", "required": ["redriven"],
                      "properties": {"redriven": {"type": "array", "items": {"type": "string"}}}},
    "AuditList": {"type": "object", "required": ["items", "next"], "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "at": _TIME, "actor": {"type": "string"}, "tenant": {"type": "string"},
            "action": {"type": "string"}, "target": _NULLABLE_STRING, "outcome": {"type": "string"},
            "source": {"type": "string"}, "detail": {"type": "object"}}}},
        "next": _NULLABLE_STRING}},
}  # fmt: skip


def _op(summary: str, responses: dict[str, Any], *, body: str | None = None, params: list | None = None,
        scope: str) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "description": f"Scope: `{scope}`.", "responses": responses,
                          "security": [{"apiKey": []}]}  # fmt: skip
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64}}  # fmt: skip


PATHS: dict[str, Any] = {
    "/v1/messages": {"post": {
        **_op("Send an SMS (validated, routed and journalled like an SMPP submit_sm)", {
            "202": _json("MessageAccepted", "accepted: journalled durably, on its way"),
            **_errors(400, *_AUTH, 409, 413, 422, 503)}, body="MessageRequest", scope="send"),
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": "a retried POST with the same key gets the first answer, never a second message"}],
    }},
    "/v1/messages/{message_id}": {"get": _op("A message's state and history", {
        "200": _json("Message", "the message"), **_errors(*_AUTH, 404)},
        params=[_path("message_id", "our message id")], scope="read")},
    "/v1/events": {"get": _op("Receipts and MO as server-sent events (each `data:` is an Event)", {
        "200": {"description": "an endless text/event-stream; `id:` is the eventId",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **_errors(*_AUTH)}, scope="read")},
    "/v1/suppressions": {
        "get": _op("The tenant's opt-out list", {"200": _json("SuppressionList", "a page, oldest first"),
                                                **_errors(400, *_AUTH)}, params=[_LIMIT, _AFTER], scope="admin"),
        "post": _op("Opt a number out (MTs to it are refused like after a STOP)", {
            "200": _json("Suppression", "already opted out"), "201": _json("Suppression", "opted out"),
            **_errors(400, *_AUTH, 413)}, body="SuppressionRequest", scope="admin"),
    },
    "/v1/suppressions/{number}": {"delete": _op("Opt a number back in", {
        "204": {"description": "removed"}, **_errors(400, *_AUTH, 404)},
        params=[_path("number", "E.164 (+263…) or national in the tenant's region")], scope="admin")},
    "/v1/erase": {"post": _op("Erase a number's data held for this tenant", {
        "200": _json("EraseResult", "what was removed"), **_errors(400, *_AUTH, 413)},
        body="EraseRequest", scope="admin")},
    "/v1/admin/erase": {"post": _op("Erase a number's data everywhere in the switch", {
        "200": _json("EraseResult", "what was removed"), **_errors(400, *_AUTH, 413)},
        body="EraseRequest", scope="operator")},
    "/v1/admin/routes/reload": {"post": _op("Reload the route table from its file", {
        "200": _json("ReloadResult", "the new table is in use"), **_errors(*_AUTH, 422, 501)}, scope="operator")},
    "/v1/admin/dead-letters/{letter_id}/redrive": {"post": _op("Send a dead letter again", {
        "200": _json("RedriveResult", "back to work"), **_errors(*_AUTH, 404)},
        params=[_path("letter_id", "dead letter id")], scope="operator")},
    "/v1/admin/audit": {"get": _op("The audit log, oldest first", {
        "200": _json("AuditList", "a page"), **_errors(400, *_AUTH)},
        params=[_LIMIT, _AFTER, {"name": "action", "in": "query", "required": False, "schema": {"type": "string"}}],
        scope="operator")},
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsswitch HTTP API", "version": VERSION,
                 "description": "Send SMS, follow receipts and MO, manage opt-outs. Errors are "
                                "`{\"error\": {\"code\", \"message\"}}` with stable codes."},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "`Authorization: Bearer <key id>.<secret>`"}},
        },
    }  # fmt: skip
