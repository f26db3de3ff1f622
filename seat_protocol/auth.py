"""Seat authentication: the challenge-response signature and the enrolment code.

The hub sends a fresh random 32-byte nonce; the seat signs, with its Ed25519 key,

    DOMAIN || nonce || len(seat_id) || seat_id || len(hub_id) || hub_id

(lengths as one byte each; ids are ASCII and at most 64 bytes). The domain separator keeps the
signature from ever being valid for any other use of the same key; the hub id keeps a hub from
relaying a challenge to another hub; the length prefixes make the concatenation unambiguous.

The enrolment code lets a venue admin check, by eye, that the keys on the admin page are the
keys the terminal printed: the first 8 base32 characters of SHA-256 over both public keys,
grouped 4-4 (``ABCD-EFGH``, 40 bits).

Pure: no I/O; the nonce is made by the caller (``os.urandom(32)`` in the shell).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "AUTH_DOMAIN",
    "ENROLMENT_DOMAIN",
    "NONCE_SIZE",
    "challenge_payload",
    "enrolment_code",
    "public_key_bytes",
    "sign_challenge",
    "verify_challenge",
]

AUTH_DOMAIN = b"remote-evaluation-room/seat-auth/v1\x00"
ENROLMENT_DOMAIN = b"remote-evaluation-room/seat-enrolment/v1\x00"
NONCE_SIZE = 32
_KEY_SIZE = 32


def _prefixed(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 255:
        raise ValueError("identifier longer than 255 bytes")
    return bytes([len(raw)]) + raw


def challenge_payload(nonce: bytes, seat_id: str, hub_id: str) -> bytes:
    """The exact bytes a seat signs for this challenge."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    return AUTH_DOMAIN + nonce + _prefixed(seat_id) + _prefixed(hub_id)


def sign_challenge(key: Ed25519PrivateKey, nonce: bytes, seat_id: str, hub_id: str) -> bytes:
    return key.sign(challenge_payload(nonce, seat_id, hub_id))


def verify_challenge(
    public_key: bytes, signature: bytes, nonce: bytes, seat_id: str, hub_id: str
) -> bool:
    """Whether ``signature`` is the enrolled key's signature of this challenge. Never raises
    for bad input: a malformed key or signature simply does not verify."""
    if len(public_key) != _KEY_SIZE or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, challenge_payload(nonce, seat_id, hub_id)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``key`` (the form enrolled and sent on the wire)."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def enrolment_code(ed25519_public_key: bytes, x25519_public_key: bytes) -> str:
    """The short code a venue admin compares by eye, e.g. ``K3QZ-7MDA``."""
    if len(ed25519_public_key) != _KEY_SIZE or len(x25519_public_key) != _KEY_SIZE:
        raise ValueError("public keys must be 32 bytes each")
    digest = hashlib.sha256(ENROLMENT_DOMAIN + ed25519_public_key + x25519_public_key).digest()
    letters = base64.b32encode(digest).decode("ascii")[:8]
    return f"{letters[:4]}-{letters[4:]}"
