"""Per-message callback URLs (POST /v1/messages `callbackUrl`): where that message's receipt
webhook goes instead of the tenant's URL (signed with the tenant's secret all the same).

Filed under our message id in the journal's meta sub-database for `ttl` (7 days by
default: longer than any receipt takes), then purged. Only http(s) URLs are taken.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import msgpack

from smsswitch.http import metastore
from smsswitch.http.errors import ApiError
from smsswitch.journal.journal import Journal

PREFIX = b"http.cb"
DEFAULT_TTL = 7 * 86400.0
MAX_URL_LENGTH = 2000


def check_url(url: object, *, private_ok: bool = True) -> str:
    """An absolute http(s) URL with a host, or a 400. With `private_ok=False` an IP literal
    in a loopback, private, link-local or reserved range is refused too (a tenant must not
    make the switch call into its own network; host names are not resolved here)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise ApiError(400, "invalid_callback_url", f"callbackUrl must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable():
        raise ApiError(400, "invalid_callback_url", "callbackUrl must be an absolute http or https URL")
    if not private_ok and _internal(parts.hostname):
        raise ApiError(400, "invalid_callback_url", "callbackUrl may not point into a private network")
    return url


def _internal(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


class CallbackStore:
    def __init__(self, journal: Journal, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.ttl = ttl
        self.clock = clock

    def op(self, message_id: str, url: str) -> metastore.MetaPut:
        """The journal op that files `url` for `message_id` (commit it with other ops)."""
        return metastore.MetaPut(metastore.key(PREFIX, message_id), msgpack.packb([url, self.clock()]))

    def get(self, message_id: str) -> str | None:
        with self.journal.read() as txn:
            raw = metastore.get(txn, self.journal.store, metastore.key(PREFIX, message_id))
        return None if raw is None else msgpack.unpackb(raw)[0]

    async def purge_expired(self) -> int:
        cutoff = self.clock() - self.ttl
        return await metastore.purge(self.journal, PREFIX + metastore.SEP, lambda v: msgpack.unpackb(v)[1] <= cutoff)
