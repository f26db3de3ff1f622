"""Password hashes (口令散列): scrypt with a random salt per hash, checked in constant time.

The stored form is ``scrypt$<salt, base64>$<digest, base64>`` with n=2**14, r=8, p=1 and a
32-byte digest (RFC 7914's interactive settings); every hash the hub ever stored has this form,
so changing the parameters means a new scheme name, never a silent change of these. Pure: no
clock, no database, nothing logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

_SCHEME = "scrypt"
# scrypt parameters (RFC 7914 interactive settings): n=2**14, r=8, p=1.
_N, _R, _P = 2**14, 8, 1
_DIGEST_BYTES = 32
_SALT_BYTES = 16


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DIGEST_BYTES)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The stored form of ``password`` (a fresh random salt unless ``salt`` is given)."""
    salt = salt or secrets.token_bytes(_SALT_BYTES)
    return (
        f"{_SCHEME}${base64.b64encode(salt).decode()}$"
        f"{base64.b64encode(_digest(password, salt)).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored``; ``False`` for anything not of our form."""
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
    except ValueError:  # not three parts, or not base64 (binascii.Error is a ValueError)
        return False
    if scheme != _SCHEME:
        return False
    return hmac.compare_digest(_digest(password, salt), expected)
