"""Handlers for the tenant's own messages: send one, look one up, stream events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from smsswitch.http.errors import ApiError, submit_error
from smsswitch.http.events import iso
from smsswitch.http.idempotency import check_key, fingerprint
from smsswitch.http.submit import parse_message, to_request
from smsswitch.journal.ids import is_our_id
from smsswitch.journal.records import MessageRecord
from smsswitch.server.api import BindInfo
from smsswitch.smpp.constants import CommandStatus

if TYPE_CHECKING:
    from smsswitch.http.api import Call, RestApi

_OK = int(CommandStatus.ESME_ROK)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(value), status_code=status, headers=headers, media_type="application/json")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def send(api: RestApi, call: Call) -> Response:
    """POST /v1/messages: validate like SMPP, throttle, journal through the core, 202."""
    raw, body = await call.json()
    message = parse_message(body, private_callbacks=api.services.private_callbacks)
    if message.callback_url and (call.tenant.config.webhook is None or "webhook" not in call.tenant.config.deliver_via):
        raise ApiError(400, "callbacks_not_enabled", "receipts of this tenant are not delivered by webhook")
    tenant = call.principal.tenant
    key = call.request.headers.get("idempotency-key")
    print_ = fingerprint(raw)
    if key is not None:
        check_key(key)
        stored = api.idempotency.lookup(tenant, key, print_)
        if stored is not None:
            return Response(stored.body, status_code=stored.status or 202, media_type="application/json",
                            headers={"Idempotent-Replayed": "true"})  # fmt: skip
    now = api.clock()
    request, parts = to_request(message, call.tenant, now)
    if not api.limiter(call.tenant).try_acquire(now):
        raise submit_error(CommandStatus.ESME_RTHROTTLED)
    if key is not None:
        await api.idempotency.begin(tenant, key, print_)
    try:
        client = call.request.client
        bind = BindInfo(f"http:{call.principal.key_id}", call.tenant.config, "transmitter",
                        client.host if client else "", client.port if client else 0)  # fmt: skip
        answer = (await api.core.submit(bind, [request]))[0]
        if answer.status != _OK:
            raise submit_error(answer.status)
    except ApiError:
        if key is not None:  # refused: no message exists, the key may be used again
            await api.idempotency.release(tenant, key)
        raise
    except BaseException:
        if key is not None:  # outcome unknown: the pending record stays
            api.idempotency.abandon(tenant, key)
        raise
    result = {"messageId": answer.message_id, "status": "accepted", "parts": parts,
              "clientReference": message.client_reference}  # fmt: skip
    encoded = _dumps(result)
    also = [api.callbacks.op(answer.message_id, message.callback_url)] if message.callback_url else []
    if key is not None:
        await api.idempotency.finish(tenant, key, print_, 202, encoded, also)
    elif also:
        await api.journal.commit(also)
    return Response(encoded, status_code=202, media_type="application/json")


def message_json(record: MessageRecord) -> dict[str, Any]:
    return {
        "messageId": record.id,
        "status": record.state.name.lower(),
        "final": record.state.terminal,
        "fromNumber": record.source,
        "toNumber": record.destination,
        "createdAt": iso(record.created),
        "updatedAt": iso(record.updated),
        "carrier": record.connector,
        "errorCode": record.error,
        "clientReference": record.client_ref,
        "parts": record.part.total if record.part else 1,
        "attempts": record.attempts,
        "history": [{"status": h.state.name.lower(), "at": iso(h.at), "detail": h.detail} for h in record.history],
    }


async def get(api: RestApi, call: Call) -> Response:
    """GET /v1/messages/{id}: the tenant's own message, its state and history."""
    message_id = call.request.path_params["message_id"]
    record = api.journal.get(message_id) if is_our_id(message_id) else None
    if record is None or record.tenant != call.principal.tenant:
        raise ApiError(404, "message_not_found", "no such message for this tenant")
    return json_response(message_json(record))


async def events(api: RestApi, call: Call) -> Response:
    """GET /v1/events: the tenant's receipts and MO as server-sent events."""
    if call.request.method == "HEAD":
        return Response(media_type="text/event-stream")
    return api.streams.response(call.tenant.config, call.principal.key_id, call.request.client)
