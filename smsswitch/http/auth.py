"""API keys: who is calling, for which tenant, with which scopes, from where.

A key is shown to its owner once as ``<key id>.<secret>``; the config stores only the key
id and a scrypt hash of the whole token (smsswitch.passwords). The id in front picks the one
hash to check, so a request costs at most one scrypt (~15 ms, in a worker thread) — and only
the first time: verified tokens are remembered by their SHA-256, never in clear. Source IPs
that keep failing are refused before any hashing (the SMPP server's failed-bind tracker).

Scopes: ``send`` (POST messages), ``read`` (GET messages, event stream), ``admin`` (the
tenant's own opt-out list and erase of its own data), ``operator`` (switch-wide: erase
everywhere, route reload, redrive, audit log).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable

import attrs
import trio

from smsswitch.allowlist import Network, address_allowed
from smsswitch.http.errors import ApiError
from smsswitch.passwords import hash_password, verify_password
from smsswitch.server.auth import FailedBindTracker

SCOPES = frozenset({"send", "read", "admin", "operator"})
#: Scopes whose every use is written to the audit log.
AUDITED_SCOPES = frozenset({"admin", "operator"})
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CACHE_MAX = 10_000



@attrs.frozen
class ApiKey:
    """One configured key (YAML: tenants.<name>.api_keys: [{id, key_hash, scopes, allowed_networks}])."""

    id: str = attrs.field(validator=attrs.validators.matches_re(_KEY_ID))
    tenant: str
    key_hash: str
    scopes: frozenset[str] = attrs.field(converter=frozenset, default=frozenset({"send", "read"}))
    allowed_networks: tuple[Network, ...] = ()

    @scopes.validator
    def _known(self, _attribute: object, value: frozenset[str]) -> None:
        unknown = value - SCOPES
        if unknown:
            raise ValueError(f"unknown API key scope(s) {sorted(unknown)}; known: {sorted(SCOPES)}")

    def ip_allowed(self, host: str) -> bool:
        return address_allowed(host, self.allowed_networks)


@attrs.frozen
class Principal:
    """The authenticated caller of one request."""

    key_id: str
    tenant: str
    scopes: frozenset[str]

    @property
    def audited(self) -> bool:
        return not self.scopes.isdisjoint(AUDITED_SCOPES)


def new_api_key(key_id: str, *, n: int = 2**14) -> tuple[str, str]:
    """A fresh token for `key_id` and the hash to put in the config: (token, key_hash)."""
    if not _KEY_ID.match(key_id):
        raise ValueError("key id: 1-64 of A-Z a-z 0-9 _ -")
    token = f"{key_id}.{secrets.token_urlsafe(32)}"
    return token, hash_password(token, n=n)


class KeyRing:
    """Verifies bearer tokens against the configured keys (replace it whole on reload)."""

    def __init__(
        self, keys: Iterable[ApiKey], *, failures_per_minute: int = 20, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys: dict[str, ApiKey] = {}
        for key in keys:
            if key.id in self._keys:
                raise ValueError(f"duplicate API key id {key.id!r}")
            self._keys[key.id] = key
        self._verified: dict[bytes, str] = {}
        self._failures = FailedBindTracker(failures_per_minute)
        self.clock = clock

    def __len__(self) -> int:
        return len(self._keys)

    async def authenticate(self, authorization: str | None, host: str) -> Principal:
        """The caller for an Authorization header value, or an ApiError (401/403/429)."""
        now = self.clock()
        if self._failures.blocked(host, now):
            raise ApiError(429, "too_many_auth_failures", "too many failed authentications from this address",
                           headers={"Retry-After": "60"})  # fmt: skip
        token = _bearer(authorization)
        key = self._keys.get(token.partition(".")[0]) if token else None
        if key is None or not await self._verify(token, key):  # type: ignore[arg-type]
            self._failures.record_failure(host, now)
            raise ApiError(401, "unauthorized", "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
        if not key.ip_allowed(host):
            raise ApiError(403, "address_not_allowed", "this API key may not be used from this address")
        return Principal(key.id, key.tenant, key.scopes)

    async def _verify(self, token: str, key: ApiKey) -> bool:
        digest = hashlib.sha256(token.encode()).digest()
        if self._verified.get(digest) == key.id:
            return True
        ok = await trio.to_thread.run_sync(verify_password, token, key.key_hash)
        if ok:
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified[digest] = key.id
        return ok


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


def require(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise ApiError(403, "forbidden", f"this API key lacks the {scope!r} scope")
