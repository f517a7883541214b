"""Passwords and API tokens: made, hashed and checked. Neither is ever stored as given.

Passwords go through scrypt (a memory-hard KDF) with a random salt; the stored text names the cost
so that it can be raised later. API tokens are 256 random bits, so one SHA-256 suffices; they are
compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # about 16 MiB and 50 ms per check
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "hat_"  # "human approval token": recognisable in a leaked log or a secret scanner


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """Return the text to store for a password: scrypt$N$r$p$salt$hash."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str | None) -> bool:
    """Return whether the password is the one stored; with nothing stored, take as long and say no."""
    if stored is None:
        stored = DUMMY_HASH  # an unknown name costs the same time as a wrong password
    _, n, r, p, salt, digest = stored.split("$")
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest)) and stored is not DUMMY_HASH


def new_token() -> str:
    """Return a fresh API token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the text to store for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored: str) -> bool:
    """Return whether the token hashes to the stored hash, in constant time."""
    return hmac.compare_digest(hash_token(token), stored)


# What an unknown name is checked against: a stored form at today's cost, so that the check takes as long as a
# real one. password_matches refuses it by identity whatever the password, so it is not worth an scrypt run at
# import, which every start of `python -m controller` (each users command too) would pay.
DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(16))}${_b64(bytes(32))}"
