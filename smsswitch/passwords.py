"""Salted password hashes for tenant binds and API keys (scrypt from the standard library).

Stored form: ``scrypt$N$r$p$<salt hex>$<hash hex>``. Verification is constant time
(`hmac.compare_digest`), and bind passwords never exist in the config in clear.

SMPP passwords are at most 8 characters, so a hash per bind attempt is affordable only because
binds are rare; `verify_password` caches nothing on purpose (a cache of clear passwords would
defeat the hashing).
"""

from __future__ import annotations

import hashlib
import hmac
import os

_PREFIX = "scrypt"
# N=2**14, r=8, p=1: ~15 ms and 16 MiB per check on this class of machine; binds are rare.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """Return a salted scrypt hash of `password` in the stored form."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"{_PREFIX}${n}${r}${p}${salt.hex()}${digest.hex()}"


def is_password_hash(value: str) -> bool:
    """True if `value` looks like a stored hash (so config can refuse clear-text passwords)."""
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == _PREFIX and all(parts[1:])


def verify_password(password: str, stored: str) -> bool:
    """Check `password` against a stored hash in constant time; a malformed hash never matches."""
    try:
        prefix, n, r, p, salt_hex, digest_hex = stored.split("$")
        if prefix != _PREFIX:
            return False
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
