"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>`` with the tenant's secret.

    X-Smsswitch-Signature: t=1767225600,v1=5f2b...e9

The timestamp is inside the signed text, so a receiver that checks it against its own clock
(`verify`, tolerance 5 minutes) rejects replays of an old request; the raw body is signed as
sent, so receivers must verify before parsing. `v1` names the scheme so a later one can be
sent beside it during a rotation.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Smsswitch-Signature"
TOLERANCE = 300.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str | None, body: bytes, now: float, tolerance: float = TOLERANCE) -> bool:
    """What a receiver does: a v1 signature matches and its timestamp is recent."""
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", ()))
