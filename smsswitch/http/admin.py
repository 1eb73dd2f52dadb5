"""Handlers for admin (own tenant) and operator (switch-wide) actions. Each one fills in the
call's audit target (numbers masked) and detail; the guard writes the record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from smsswitch.http import audit
from smsswitch.http.erase import erase_number
from smsswitch.http.errors import ApiError
from smsswitch.http.events import iso
from smsswitch.http.messages import json_response
from smsswitch.http.optouts import normalise
from smsswitch.journal import retention
from smsswitch.logs import mask_number

if TYPE_CHECKING:
    from smsswitch.http.api import Call, RestApi


def _limit(call: Call, default: int = 100, high: int = 1000) -> int:
    raw = call.request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ApiError(400, "invalid_request", f"'limit' must be an integer from 1 to {high}")
    return int(raw)


def _cursor(call: Call) -> str | None:
    after = call.request.query_params.get("after")
    if after is not None and (not after or len(after) > 64 or not after.isprintable()):
        raise ApiError(400, "invalid_request", "'after' must be a cursor from an earlier page")
    return after


async def _object(call: Call) -> dict[str, Any]:
    _raw, body = await call.json()
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    return body


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, "invalid_request", f"'{name}' must be true or false")
    return value


# ---------------------------------------------------------------- opt-out list (admin)


async def list_optouts(api: RestApi, call: Call) -> Response:
    items = api.optouts.page(call.principal.tenant, limit=_limit(call), after=_cursor(call))
    return json_response({
        "items": [{"number": o.number, "since": iso(o.since)} for o in items],
        "next": items[-1].number if items else None,
    })  # fmt: skip


async def add_optout(api: RestApi, call: Call) -> Response:
    body = await _object(call)
    number = normalise(body.get("number"), call.tenant.config)
    call.target = mask_number(number)
    tenant = call.principal.tenant
    existing = api.optouts.get(tenant, number)
    if existing is not None:
        return json_response({"number": number, "since": iso(existing.since)}, 200)
    now = api.clock()
    await api.journal.commit(api.optouts.ops(tenant, number, True, now))
    api.optouts.changed()
    return json_response({"number": number, "since": iso(now)}, 201)


async def remove_optout(api: RestApi, call: Call) -> Response:
    number = normalise(call.request.path_params["number"], call.tenant.config)
    call.target = mask_number(number)
    tenant = call.principal.tenant
    if api.optouts.get(tenant, number) is None:
        raise ApiError(404, "not_suppressed", "this number is not on the opt-out list")
    await api.journal.commit(api.optouts.ops(tenant, number, False, api.clock()))
    return Response(status_code=204)


# ---------------------------------------------------------------- erase


async def erase(api: RestApi, call: Call, *, everywhere: bool) -> Response:
    """Remove a number's data: the tenant's own (admin) or everything (operator)."""
    body = await _object(call)
    unknown = set(body) - {"number", "keepOptOuts"}
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    number = normalise(body.get("number"), call.tenant.config)
    keep = _flag(body, "keepOptOuts")
    call.target = mask_number(number)
    tenants = list(api.tenants) if everywhere else [call.principal.tenant]
    erased = await erase_number(api.journal, number, tenant=None if everywhere else call.principal.tenant,
                                opt_out_tenants=tenants, keep_opt_outs=keep, at=api.clock())  # fmt: skip
    call.detail = {"scope": "everywhere" if everywhere else "tenant", **erased.to_json()}
    return json_response(erased.to_json())


# ---------------------------------------------------------------- operator


async def reload_routes(api: RestApi, call: Call) -> Response:
    reload = api.services.reload_routes
    if reload is None:
        raise ApiError(501, "not_configured", "route reload is not available in this process")
    try:
        summary = await reload()
    except Exception as exc:  # the checker's message; the old table stays in use
        call.detail = {"error": str(exc)[:500]}
        raise ApiError(422, "routes_invalid", str(exc)[:2000]) from None
    call.detail = {"result": summary[:500]}
    return json_response({"result": summary})


async def redrive(api: RestApi, call: Call) -> Response:
    letter_id = call.request.path_params["letter_id"]
    call.target = letter_id
    if len(letter_id) > 64 or not letter_id.isprintable():
        raise ApiError(404, "dead_letter_not_found", "no such dead letter")
    done = await retention.redrive(api.journal, [letter_id], now=api.clock())
    if not done:
        raise ApiError(404, "dead_letter_not_found", "no such dead letter")
    return json_response({"redriven": done})


async def audit_list(api: RestApi, call: Call) -> Response:
    action = call.request.query_params.get("action")
    items = audit.entries(api.journal, limit=_limit(call), after=_cursor(call), action=action)
    return json_response({
        "items": [{**e.to_json(), "at": iso(e.at)} for e in items],
        "next": items[-1].id if items else None,
    })  # fmt: skip
