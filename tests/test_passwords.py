"""Tenant password hashing: salted, verifiable, constant-time compare, malformed never matches."""

from smsswitch.passwords import hash_password, is_password_hash, verify_password


def test_hash_verifies_and_is_salted() -> None:
    first, second = hash_password("secret1"), hash_password("secret1")
    assert first != second  # different salts
    assert is_password_hash(first)
    assert verify_password("secret1", first) and verify_password("secret1", second)
    assert not verify_password("secret2", first)


def test_malformed_or_clear_text_never_matches() -> None:
    assert not is_password_hash("secret1")
    assert not verify_password("secret1", "secret1")
    assert not verify_password("x", "scrypt$zz$8$1$00$00")
    assert not verify_password("x", "bcrypt$1$2$3$4$5")
