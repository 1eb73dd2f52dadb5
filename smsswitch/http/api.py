"""The REST API as one ASGI app (Starlette on trio): routes, authentication, audit, errors.

    api = RestApi(EdgeServices(journal=journal, core=switch, tenants=tenants_by_name,
                               keys=KeyRing(api_keys), reload_routes=reload, opt_outs_changed=...))
    app = EdgeApp(registry, readiness, api=api)      # /metrics etc. beside /v1/...
    nursery.start_soon(api.run)                      # idempotency/callback expiry

Every /v1 endpoint is declared with the scope it needs and an audit action name; `_guard`
authenticates the bearer key, checks the scope and IP allow-list, and writes the audit
record (for admin/operator endpoints, and for any use of an admin- or operator-scoped key)
whatever the outcome. Errors of any kind leave as `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import structlog
import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsswitch.config import TenantConfig
from smsswitch.http import admin, messages
from smsswitch.http.audit import AuditLog
from smsswitch.http.auth import KeyRing, Principal, require
from smsswitch.http.callbacks import CallbackStore
from smsswitch.http.errors import ApiError, error_response
from smsswitch.http.idempotency import IdempotencyStore
from smsswitch.http.openapi import openapi_document
from smsswitch.http.optouts import OptOutList
from smsswitch.http.sse import EventStreams
from smsswitch.journal.journal import Journal
from smsswitch.ratelimit import RateLimiter
from smsswitch.server.api import TenantSink
from smsswitch.server.registry import make_limiter
from smsswitch.server.tenants import SenderPolicy, TenantEntry

log = structlog.get_logger("smsswitch.http")

MAX_BODY = 16 * 1024
#: How often expired idempotency keys and callback URLs are purged.
PURGE_INTERVAL = 600.0

Handler = Callable[["Call"], Awaitable[Response]]


@attrs.define
class EdgeServices:
    """What the daemon hands the REST API."""

    journal: Journal
    core: TenantSink
    tenants: Mapping[str, TenantConfig]
    keys: KeyRing
    #: Recompile and swap the route table; returns a one-line summary, raises with the
    #: checker's message when the file is broken (the old table stays).
    reload_routes: Callable[[], Awaitable[str]] | None = None
    #: Tell the core that opt-outs exist (it skips the lookup until one does).
    opt_outs_changed: Callable[[], None] | None = None
    #: The tenant-wide limiter (pass the SMPP server's, so both share tenant_tps).
    limiter_for: Callable[[TenantEntry], RateLimiter] | None = None
    clock: Callable[[], float] = time.time
    #: Accept callbackUrls with loopback/private IP literals (tests, closed networks).
    private_callbacks: bool = False


@attrs.define
class Call:
    """One authenticated request as the handlers see it."""

    request: Request
    principal: Principal
    tenant: TenantEntry
    host: str
    target: str | None = None  # for the audit record (numbers masked)
    detail: dict[str, Any] = attrs.Factory(dict)

    async def json(self) -> tuple[bytes, Any]:
        """The raw body (bounded) and its JSON value, or a 400/413."""
        body = b""
        async for chunk in self.request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ApiError(413, "body_too_large", f"the body is larger than {MAX_BODY} bytes")
        try:
            return body, json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


class RestApi:
    def __init__(self, services: EdgeServices) -> None:
        self.services = services
        journal = services.journal
        self.journal = journal
        self.core = services.core
        self.clock = services.clock
        self.keys = services.keys
        self.idempotency = IdempotencyStore(journal, clock=services.clock)
        self.callbacks = CallbackStore(journal, clock=services.clock)
        self.audit = AuditLog(journal, clock=services.clock)
        self.optouts = OptOutList(journal, services.opt_outs_changed)
        self.streams = EventStreams(services.core, journal.get)
        self._limiters: dict[str, RateLimiter] = {}
        self._entries: dict[str, TenantEntry] = {}
        self.reload(services.tenants, services.keys)
        self.app = Starlette(routes=self._routes(), exception_handlers={
            ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error})  # fmt: skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def reload(self, tenants: Mapping[str, TenantConfig], keys: KeyRing | None = None) -> None:
        """New tenant settings and keys for requests from now on (SIGHUP)."""
        self.tenants = dict(tenants)
        self._entries = {n: TenantEntry(t, SenderPolicy.from_globs(t.allowed_senders)) for n, t in self.tenants.items()}
        if keys is not None:
            self.keys = keys
        for name, limiter in self._limiters.items():
            if name in self.tenants:
                rate = self.tenants[name].tenant_tps
                limiter.set_rate(rate, max(1.0, rate / 10))

    def limiter(self, entry: TenantEntry) -> RateLimiter:
        if self.services.limiter_for is not None:
            return self.services.limiter_for(entry)
        limiter = self._limiters.get(entry.config.name)
        if limiter is None:
            limiter = self._limiters[entry.config.name] = make_limiter(entry.config.tenant_tps)
        return limiter

    async def run(self) -> None:
        """Background upkeep until cancelled: expire idempotency keys and callback URLs."""
        while True:
            await trio.sleep(PURGE_INTERVAL)
            try:
                await self.idempotency.purge_expired()
                await self.callbacks.purge_expired()
            except Exception as exc:  # retried next interval
                log.warning("http.purge_failed", error=repr(exc))

    # ------------------------------------------------------------------ routing

    def _routes(self) -> list[Route]:
        def route(path: str, method: str, scope: str, action: str, handler: Handler) -> Route:
            return Route(path, self._guard(scope, action, handler), methods=[method], name=action)

        return [
            Route("/openapi.json", _openapi, methods=["GET"], name="openapi"),
            route("/v1/messages", "POST", "send", "messages.send", lambda c: messages.send(self, c)),
            route("/v1/messages/{message_id}", "GET", "read", "messages.get", lambda c: messages.get(self, c)),
            route("/v1/events", "GET", "read", "events.stream", lambda c: messages.events(self, c)),
            route("/v1/suppressions", "GET", "admin", "suppression.list", lambda c: admin.list_optouts(self, c)),
            route("/v1/suppressions", "POST", "admin", "suppression.add", lambda c: admin.add_optout(self, c)),
            route("/v1/suppressions/{number}", "DELETE", "admin", "suppression.remove",
                  lambda c: admin.remove_optout(self, c)),  # fmt: skip
            route("/v1/erase", "POST", "admin", "erase.tenant", lambda c: admin.erase(self, c, everywhere=False)),
            route("/v1/admin/erase", "POST", "operator", "erase", lambda c: admin.erase(self, c, everywhere=True)),
            route("/v1/admin/routes/reload", "POST", "operator", "routes.reload", lambda c: admin.reload_routes(self, c)),
            route("/v1/admin/dead-letters/{letter_id}/redrive", "POST", "operator", "redrive",
                  lambda c: admin.redrive(self, c)),  # fmt: skip
            route("/v1/admin/audit", "GET", "operator", "audit.list", lambda c: admin.audit_list(self, c)),
        ]

    def _guard(self, scope: str, action: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        admin_action = scope in ("admin", "operator")

        async def endpoint(request: Request) -> Response:
            host = request.client.host if request.client else ""
            principal = await self.keys.authenticate(request.headers.get("authorization"), host)
            call: Call | None = None
            outcome = "500"
            try:
                require(principal, scope)
                entry = self._entries.get(principal.tenant)
                if entry is None:
                    raise ApiError(403, "unknown_tenant", "this API key's tenant is not configured")
                call = Call(request, principal, entry, host)
                response = await handler(call)
                outcome = str(response.status_code)
                return response
            except ApiError as exc:
                outcome = "denied" if exc.status == 403 else str(exc.status)
                raise
            finally:
                if admin_action or principal.audited:
                    await self._audit(principal, action, call, outcome, host)

        return endpoint

    async def _audit(self, principal: Principal, action: str, call: Call | None, outcome: str, host: str) -> None:
        target = call.target if call else None
        detail = call.detail if call else {}
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            try:
                await self.audit.record(principal.key_id, principal.tenant, action, target, outcome, host, detail)
            except Exception as exc:
                log.warning("audit.write_failed", action=action, error=repr(exc))


async def _openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), exc.headers)


async def _internal_error(_request: Request, exc: Exception) -> Response:
    log.error("http.internal_error", error=repr(exc))
    return error_response(500, "internal", "internal error")
