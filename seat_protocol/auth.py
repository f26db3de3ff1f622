"""Seat authentication: the challenge-response signature and the enrolment code.

The hub sends a fresh random 32-byte nonce; the seat signs, with its Ed25519 key (SM2 in the
national suite, ``seat_protocol.suites``; the enrolled key's size says which),

    DOMAIN || nonce || len(seat_id) || seat_id || len(hub_id) || hub_id

(lengths as one byte each; ids are ASCII and at most 64 bytes). The domain separator keeps the
signature from ever being valid for any other use of the same key; the hub id keeps a hub from
relaying a challenge to another hub; the length prefixes make the concatenation unambiguous.

The enrolment code lets a venue admin check that the keys the hub recorded are the keys the
terminal printed: 25 decimal digits (about 83 bits) taken from SHA-256 (SM3 for SM2 keys) over
both public keys,
in five groups of five (``12345 67890 12345 67890 12345``): digits in short groups are what a
person reads out and types most reliably, and at 83 bits nobody can make a second key pair
with the same code.

The hub's TLS key is pinned by the SHA-256 of its certificate's SubjectPublicKeyInfo
(:func:`spki_sha256`, the form ``openssl x509 -pubkey | openssl pkey -pubin -outform der |
openssl dgst -sha256`` prints), shown to people in groups of four (:func:`format_pin`).

Pure: no I/O; the nonce is made by the caller (``os.urandom(32)`` in the shell).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from seat_protocol.suites import SigningKey, suite_of_key, suite_of_public_bytes

__all__ = [
    "AUTH_DOMAIN",
    "ENROLMENT_CODE",
    "ENROLMENT_DOMAIN",
    "NONCE_SIZE",
    "challenge_payload",
    "enrolment_code",
    "format_pin",
    "normalise_enrolment_code",
    "parse_pin",
    "public_key_bytes",
    "sign_challenge",
    "spki_sha256",
    "verify_challenge",
]

AUTH_DOMAIN = b"remote-evaluation-room/seat-auth/v1\x00"
ENROLMENT_DOMAIN = b"remote-evaluation-room/seat-enrolment/v2\x00"
#: the enrolment code's form on the wire and on screen
ENROLMENT_CODE = re.compile(r"[0-9]{5}( [0-9]{5}){4}")
_CODE_DIGITS, _CODE_GROUP = 25, 5
NONCE_SIZE = 32
_KEY_SIZE = 32
_SM2_KEY_SIZE = 65


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


def sign_challenge(key: SigningKey, nonce: bytes, seat_id: str, hub_id: str) -> bytes:
    return key.sign(challenge_payload(nonce, seat_id, hub_id))


def verify_challenge(
    public_key: bytes, signature: bytes, nonce: bytes, seat_id: str, hub_id: str
) -> bool:
    """Whether ``signature`` is the enrolled key's signature of this challenge. Never raises
    for bad input: a malformed key or signature simply does not verify."""
    if len(signature) != 64:
        return False
    try:
        suite = suite_of_public_bytes(public_key)
        suite.load_public(public_key).verify(signature, challenge_payload(nonce, seat_id, hub_id))
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_bytes(key: SigningKey) -> bytes:
    """The raw public key of ``key`` (the form enrolled and sent on the wire): 32 bytes for
    Ed25519, 65 for SM2."""
    public = key.public_key()
    return suite_of_key(public).public_bytes(public)


def _grouped(digits: str) -> str:
    return " ".join(digits[i : i + _CODE_GROUP] for i in range(0, len(digits), _CODE_GROUP))


def enrolment_code(ed25519_public_key: bytes, x25519_public_key: bytes) -> str:
    """The code a venue admin compares, e.g. ``04719 88231 50602 19374 66015``. The keys are a
    seat's signing and chapter keys: Ed25519 and X25519 (32 bytes each), or two SM2 keys (65
    bytes each, national suite, hashed with SM3)."""
    if len(ed25519_public_key) == len(x25519_public_key) == _SM2_KEY_SIZE:
        digest = suite_of_public_bytes(ed25519_public_key).digest(
            ENROLMENT_DOMAIN + ed25519_public_key + x25519_public_key
        )
    elif len(ed25519_public_key) != _KEY_SIZE or len(x25519_public_key) != _KEY_SIZE:
        raise ValueError("public keys must be 32 bytes each")
    else:
        digest = hashlib.sha256(ENROLMENT_DOMAIN + ed25519_public_key + x25519_public_key).digest()
    # 128 bits reduced modulo 10^25: the bias is below 2^-44, far under anything a guess gains.
    number = int.from_bytes(digest[:16], "big") % 10**_CODE_DIGITS
    return _grouped(f"{number:0{_CODE_DIGITS}d}")


def normalise_enrolment_code(typed: str) -> str:
    """A code as a person typed it (spaces, dashes, full-width digits, any grouping) in the
    grouped form :func:`enrolment_code` gives; anything that is not 25 digits comes back as
    its bare letters and digits (upper case), which matches no code."""
    kept = "".join(str(int(ch)) if ch.isdecimal() else ch.upper() for ch in typed if ch.isalnum())
    if len(kept) == _CODE_DIGITS and kept.isdecimal():
        return _grouped(kept)
    return kept


def spki_sha256(certificate_der: bytes) -> str:
    """The pin of a certificate's key: SHA-256 of its DER SubjectPublicKeyInfo, lower-case hex.

    A renewed certificate for the same key keeps the pin; a new key changes it."""
    # Imported here: cryptography's x509 loads the socket module, which the pure protocol
    # machines must not (tests/seat_protocol/test_purity.py).
    from cryptography import x509

    certificate = x509.load_der_x509_certificate(certificate_der)
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def format_pin(pin: str) -> str:
    """A pin as people compare it: upper-case hex in groups of four."""
    return " ".join(pin[i : i + 4].upper() for i in range(0, len(pin), 4))


def parse_pin(text: str) -> str | None:
    """A pin as given on a command line: 64 hex digits (any case, spaces or colons between),
    or ``sha256/<base64>`` as HPKP and curl write it. ``None`` if it is neither."""
    text = text.strip()
    if text.startswith("sha256/"):
        try:
            raw = base64.b64decode(text.removeprefix("sha256/"), validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 32 else None
    digits = re.sub(r"[\s:]", "", text).lower()
    return digits if re.fullmatch(r"[0-9a-f]{64}", digits) else None
